// The temperature page: follows /events with EventSource and writes each
// reading into #temperature (textContent only: event data is never HTML).
'use strict';
(function () {
  const temperature = document.getElementById('temperature');
  const sensor = document.getElementById('sensor');
  const at = document.getElementById('at');
  const status = document.getElementById('status');
  const notice = document.getElementById('notice');

  function setStatus(state) {
    status.dataset.state = state;
    status.textContent = state;
  }

  const source = new EventSource('/events');
  source.addEventListener('open', function () { setStatus('live'); });
  source.addEventListener('error', function () {
    setStatus(source.readyState === EventSource.CLOSED ? 'offline' : 'reconnecting');
  });
  source.addEventListener('temperature', function (event) {
    const msg = JSON.parse(event.data);
    temperature.textContent = msg.data;
    sensor.textContent = msg.sensor || '';
    at.textContent = msg.at ? new Date(msg.at).toLocaleTimeString() : '';
    setStatus('live');
  });
  source.addEventListener('reset', function (event) {
    const info = JSON.parse(event.data);
    notice.textContent = 'Some readings were missed (' + info.reason + ').';
    notice.hidden = false;
  });
})();
