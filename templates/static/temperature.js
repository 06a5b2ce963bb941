// The temperature page. It follows GET /events with EventSource:
//
//   - The first connection asks for ?lastEventId=earliest, so the chart starts
//     with every reading the server keeps. After that, EventSource sends
//     Last-Event-ID itself on each reconnect (the header wins over the query),
//     so the page gets exactly the readings it missed.
//   - Every reading is kept once (by event ID), per sensor, and drawn with
//     uPlot (vendored under /static/vendor/uplot/), a line per sensor.
//   - A reset event (readings missed, or the server restarted) is shown.
//   - The indicator #status (data-state) says connecting, live, reconnecting
//     or offline, from the EventSource's state and the time since the last
//     event. Heartbeats are SSE comments, which EventSource does not surface:
//     an open connection silent for several reading intervals is treated as
//     stalled and opened again.
//
// Event data is never treated as HTML: the page writes with textContent only.
// State a test or a person may read: #status[data-state], and on #chart
// data-points (readings drawn), data-last-id (last event ID) and
// data-sensors; #notice[data-reason] when a reset was shown.
'use strict';
(function () {
  const UNIT_KEY = 'tempstream.unit';
  const SENSOR_KEY = 'tempstream.sensor';
  const MAX_POINTS = 10000; // readings the chart keeps, all sensors together
  const OFFLINE_AFTER = 15000; // ms without a connection before "reconnecting" becomes "offline"
  const MIN_SILENCE = 5000; // ms: the shortest silence taken for a stalled connection
  const DEFAULT_SILENCE = 45000; // ms: the silence limit while the reading interval is unknown
  const COLORS = 8; // --c0 … --c7 in temperature.css
  const Y_STEPS = [0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000];
  const LABELS = {
    connecting: 'Connecting…',
    live: 'Live',
    reconnecting: 'Reconnecting…',
    offline: 'Offline, retrying',
  };

  const byId = function (id) { return document.getElementById(id); };
  const ui = {
    temperature: byId('temperature'),
    reading: byId('temperature').parentElement,
    unit: byId('unit'),
    sensor: byId('sensor'),
    swatch: byId('swatch'),
    ago: byId('ago'),
    low: byId('low'),
    avg: byId('avg'),
    high: byId('high'),
    sensors: byId('sensors'),
    status: byId('status'),
    statusText: byId('status-text'),
    notice: byId('notice'),
    noticeText: byId('notice-text'),
    noticeClose: byId('notice-close'),
    chart: byId('chart'),
    historyMeta: byId('history-meta'),
    readout: byId('readout'),
    unitButtons: document.querySelectorAll('.units button'),
  };

  function load(key) {
    try { return window.localStorage.getItem(key); } catch (e) { return null; }
  }
  function save(key, value) {
    try { window.localStorage.setItem(key, value); } catch (e) { /* private mode: not remembered */ }
  }

  // ---------------------------------------------------------------------------
  // Readings

  // sensors: id → {id, color, points: [[ms, celsius or null (a gap)]], last, gaps}
  const sensors = new Map();
  let held = 0; // readings held, all sensors (gap markers not counted)
  let lastId = ''; // the last event ID seen
  let lastEpoch = '';
  let lastSeq = 0;
  let unit = load(UNIT_KEY) === 'F' ? 'F' : 'C';
  let chosen = load(SENSOR_KEY) || '';

  // parseId splits "<epoch>-<seq>"; null if the ID has another form.
  function parseId(id) {
    const m = /^(.+)-(\d+)$/.exec(id || '');
    return m ? { epoch: m[1], seq: Number(m[2]) } : null;
  }

  function sensorFor(id) {
    let s = sensors.get(id);
    if (!s) {
      s = { id: id, color: sensors.size % COLORS, points: [], last: null, gaps: [] };
      sensors.set(id, s);
    }
    return s;
  }

  // addPoint keeps s.points in time order (readings of one sensor come in
  // order; the search is for clocks that step back).
  function addPoint(s, at, celsius) {
    const pts = s.points;
    let i = pts.length;
    while (i > 0 && pts[i - 1][0] > at) i--;
    if (i > 0 && celsius !== null) {
      const prev = pts[i - 1];
      if (prev[1] !== null && i === pts.length) {
        s.gaps.push(at - prev[0]);
        if (s.gaps.length > 16) s.gaps.shift();
      }
    }
    pts.splice(i, 0, [at, celsius]);
    if (celsius !== null) held++;
    while (held > MAX_POINTS) dropOldest();
  }

  function dropOldest() {
    let oldest = null;
    sensors.forEach(function (s) {
      if (s.points.length && (!oldest || s.points[0][0] < oldest.points[0][0])) oldest = s;
    });
    if (!oldest) return;
    const p = oldest.points.shift();
    if (p[1] !== null) held--;
  }

  // interval estimates the time between readings (ms): the median gap of the
  // sensor that reports most often; 0 while unknown.
  function interval() {
    let best = 0;
    sensors.forEach(function (s) {
      if (s.gaps.length < 2) return;
      const g = s.gaps.slice().sort(function (a, b) { return a - b; });
      const med = g[g.length >> 1];
      if (med > 0 && (!best || med < best)) best = med;
    });
    return best;
  }

  // silenceLimit is how long an open connection may stay without an event
  // before it counts as stalled.
  function silenceLimit() {
    const iv = interval();
    return iv ? Math.max(MIN_SILENCE, 5 * iv) : DEFAULT_SILENCE;
  }

  function onTemperature(ev) {
    lastEventAt = performance.now();
    let msg;
    try { msg = JSON.parse(ev.data); } catch (e) { return; }
    if (!msg || typeof msg.celsius !== 'number' || !isFinite(msg.celsius)) return;
    const id = parseId(ev.lastEventId);
    if (id) {
      if (id.epoch === lastEpoch && id.seq <= lastSeq) return; // already held
      lastEpoch = id.epoch;
      lastSeq = id.seq;
    }
    if (ev.lastEventId) lastId = ev.lastEventId;
    const name = typeof msg.sensor === 'string' && msg.sensor ? msg.sensor : 'sensor';
    let at = Date.parse(msg.at);
    if (!isFinite(at)) at = Date.now();
    const s = sensorFor(name);
    addPoint(s, at, msg.celsius);
    if (!s.last || at >= s.last.at) {
      s.last = { celsius: msg.celsius, data: typeof msg.data === 'string' ? msg.data : '', at: at };
    }
    scheduleRender();
  }

  function onReset(ev) {
    lastEventAt = performance.now();
    let info = {};
    try { info = JSON.parse(ev.data) || {}; } catch (e) { /* shown as unknown */ }
    const reason = info.reason === 'expired' ? 'expired' : 'unknown';
    const when = new Date().toLocaleTimeString();
    let text;
    if (reason === 'expired') {
      // Readings were lost for good: break every line where they are missing.
      sensors.forEach(function (s) {
        const n = s.points.length;
        if (n && s.points[n - 1][1] !== null) addPoint(s, s.points[n - 1][0] + 1, null);
      });
      text = 'Readings were missed (' + when + '): this page was away longer than the server ' +
        'keeps them. The chart has a break where they are missing.';
    } else {
      const from = parseId(info.lastEventId);
      const to = parseId(info.oldestId);
      if (from && to && from.epoch !== to.epoch) {
        text = 'The server restarted (' + when + '). Readings it took while this page was ' +
          'disconnected, if any, are lost.';
      } else {
        text = 'The server did not recognise the last reading this page had (' + when +
          '): some readings may be missing.';
      }
    }
    ui.noticeText.textContent = text;
    ui.notice.dataset.reason = reason;
    ui.notice.hidden = false;
    scheduleRender();
  }

  // ---------------------------------------------------------------------------
  // Connection

  let source = null;
  let connected = false; // the current EventSource is open
  let everOpen = false;
  let openSince = 0; // performance.now() at the last open
  let lastEventAt = 0; // performance.now() at the last event
  let lostAt = performance.now(); // when the connection was last lost (or the page started)
  let retryTimer = 0;
  let retryDelay = 1000; // our own retry, for an EventSource that gave up

  function connect() {
    clearTimeout(retryTimer);
    retryTimer = 0;
    if (source) source.close();
    // The first connection fills the chart from the start of retention; a
    // new EventSource after a stall or a refusal resumes after lastId.
    const es = new EventSource('/events?lastEventId=' + encodeURIComponent(lastId || 'earliest'));
    source = es;
    es.addEventListener('open', function () {
      if (es !== source) return;
      connected = everOpen = true;
      openSince = performance.now();
      retryDelay = 1000;
      updateStatus();
    });
    es.addEventListener('error', function () {
      if (es !== source) return;
      if (connected) {
        connected = false;
        lostAt = performance.now();
      }
      if (es.readyState === EventSource.CLOSED) {
        // The browser gave up (an answer other than a 200 stream, such as
        // a proxy's 502 or the server's 503 at capacity): retry ourselves.
        retryTimer = setTimeout(connect, retryDelay);
        retryDelay = Math.min(retryDelay * 2, 30000);
      }
      updateStatus();
    });
    es.addEventListener('temperature', onTemperature);
    es.addEventListener('reset', onReset);
  }

  function currentState() {
    const now = performance.now();
    if (navigator.onLine === false) return 'offline';
    if (source && connected && source.readyState === EventSource.OPEN) return 'live';
    if (now - lostAt > OFFLINE_AFTER) return 'offline';
    return everOpen ? 'reconnecting' : 'connecting';
  }

  function updateStatus() {
    const state = currentState();
    if (ui.status.dataset.state !== state) {
      ui.status.dataset.state = state;
      ui.statusText.textContent = LABELS[state];
    }
    const now = performance.now();
    if (state === 'live') {
      ui.status.title = lastEventAt
        ? 'Connected; last event ' + ((now - lastEventAt) / 1000).toFixed(0) + ' s ago'
        : 'Connected';
    } else {
      ui.status.title = 'Not connected for ' + ((now - lostAt) / 1000).toFixed(0) + ' s';
    }
  }

  // watchdog opens an open-but-silent connection again: a connection can
  // stay open with nothing arriving (a sleeping laptop, a dropped NAT entry).
  function watchdog() {
    if (!source || !connected || source.readyState !== EventSource.OPEN) return;
    const now = performance.now();
    if (now - Math.max(lastEventAt, openSince) > silenceLimit()) {
      connected = false;
      lostAt = now;
      connect();
    }
  }

  // ---------------------------------------------------------------------------
  // View

  function primary() {
    return sensors.get(chosen) || sensors.values().next().value || null;
  }

  function toUnit(c) { return unit === 'F' ? c * 9 / 5 + 32 : c; }

  function format(last) {
    if (unit === 'C' && /^-?\d+(\.\d+)?$/.test(last.data)) return last.data; // as the server wrote it
    return toUnit(last.celsius).toFixed(2);
  }

  function unitLabel() { return unit === 'F' ? '°F' : '°C'; }

  function ago(ms) {
    const s = Math.round(ms / 1000);
    if (s < 2) return 'just now';
    if (s < 60) return s + ' s ago';
    const m = Math.floor(s / 60);
    if (m < 60) return m + ' min ago';
    const h = Math.floor(m / 60);
    if (h < 24) return h + ' h ' + (m % 60) + ' min ago';
    return Math.floor(h / 24) + ' d ago';
  }

  function setAgo(node, at) {
    node.textContent = ago(Date.now() - at);
    node.dateTime = new Date(at).toISOString();
    node.title = new Date(at).toLocaleString();
  }

  // The view is drawn at most once a frame: a replay of thousands of events
  // on connect is drawn once, and a hidden page draws nothing until shown.
  let renderPending = false;

  function scheduleRender() {
    if (renderPending) return;
    renderPending = true;
    window.requestAnimationFrame(render);
  }

  function render() {
    renderPending = false;
    renderReading();
    renderSensors();
    renderChart();
  }

  function renderReading() {
    const s = primary();
    ui.unit.textContent = unitLabel();
    if (!s || !s.last) return;
    const text = format(s.last);
    if (ui.temperature.textContent !== text) ui.temperature.textContent = text;
    ui.sensor.textContent = s.id;
    ui.swatch.className = 'swatch c' + s.color;
    renderStats(s);
    renderAges();
  }

  // renderStats shows the low, average and high of the sensor's readings held.
  function renderStats(s) {
    let lo = Infinity;
    let hi = -Infinity;
    let sum = 0;
    let n = 0;
    s.points.forEach(function (p) {
      if (p[1] === null) return;
      if (p[1] < lo) lo = p[1];
      if (p[1] > hi) hi = p[1];
      sum += p[1];
      n++;
    });
    if (!n) return;
    ui.low.textContent = toUnit(lo).toFixed(2);
    ui.avg.textContent = toUnit(sum / n).toFixed(2);
    ui.high.textContent = toUnit(hi).toFixed(2);
  }

  // renderAges updates every "how long ago" (each second, and on news).
  function renderAges() {
    const s = primary();
    if (s && s.last) {
      setAgo(ui.ago, s.last.at);
      ui.reading.dataset.stale = String(Date.now() - s.last.at > silenceLimit());
    }
    sensorItems.forEach(function (item, id) {
      const t = sensors.get(id);
      if (t && t.last) setAgo(item.ago, t.last.at);
    });
  }

  const sensorItems = new Map(); // id → {li, button, value, ago}

  function renderSensors() {
    ui.sensors.hidden = sensors.size < 2;
    if (sensors.size < 2) return;
    const current = primary();
    sensors.forEach(function (s, id) {
      let item = sensorItems.get(id);
      if (!item) {
        const li = document.createElement('li');
        const button = document.createElement('button');
        button.type = 'button';
        const swatch = document.createElement('span');
        swatch.className = 'swatch c' + s.color;
        swatch.setAttribute('aria-hidden', 'true');
        const name = document.createElement('span');
        name.className = 'name';
        name.textContent = id;
        const value = document.createElement('span');
        value.className = 'value';
        const when = document.createElement('time');
        when.className = 'when';
        button.append(swatch, name, value, when);
        button.addEventListener('click', function () {
          chosen = id;
          save(SENSOR_KEY, id);
          render();
        });
        li.append(button);
        ui.sensors.append(li);
        item = { li: li, button: button, value: value, ago: when };
        sensorItems.set(id, item);
      }
      item.button.setAttribute('aria-pressed', String(s === current));
      if (s.last) {
        item.value.textContent = format(s.last) + ' ' + unitLabel();
        setAgo(item.ago, s.last.at);
      }
    });
  }

  // ---------------------------------------------------------------------------
  // Chart

  let plot = null;
  let plotKey = ''; // what the plot was built for: sensors, unit, theme, size of text
  const darkQuery = window.matchMedia('(prefers-color-scheme: dark)');

  function chartSize() {
    return { width: Math.max(ui.chart.clientWidth, 200), height: Math.max(ui.chart.clientHeight, 150) };
  }

  function fontPx() {
    return parseFloat(getComputedStyle(ui.chart).fontSize) || 14;
  }

  // buildData aligns every sensor's readings on one time axis (seconds).
  // A missing value is undefined (the line spans it); null is a gap.
  function buildData(list) {
    let xs;
    const index = new Map(); // time → position, with several sensors
    if (list.length === 1) {
      xs = list[0].points.map(function (p) { return p[0]; });
    } else {
      const all = [];
      list.forEach(function (s) { s.points.forEach(function (p) { all.push(p[0]); }); });
      all.sort(function (a, b) { return a - b; });
      xs = all.filter(function (t, i) { return i === 0 || t !== all[i - 1]; });
      xs.forEach(function (t, i) { index.set(t, i); });
    }
    let count = 0;
    const data = [xs.map(function (t) { return t / 1000; })];
    list.forEach(function (s) {
      const ys = list.length === 1 ? new Array(xs.length) : new Array(xs.length).fill(undefined);
      s.points.forEach(function (p, i) {
        const at = list.length === 1 ? i : index.get(p[0]);
        if (p[1] === null) {
          ys[at] = null;
        } else {
          if (ys[at] === undefined || ys[at] === null) count++;
          ys[at] = toUnit(p[1]);
        }
      });
      data.push(ys);
    });
    return { data: data, count: count };
  }

  function cssVar(style, name, fallback) {
    return style.getPropertyValue(name).trim() || fallback;
  }

  function plotOptions(list, px) {
    const style = getComputedStyle(document.documentElement);
    const axisColor = cssVar(style, '--muted', '#666');
    const gridColor = cssVar(style, '--grid', 'rgba(128,128,128,0.2)');
    const family = getComputedStyle(document.body).fontFamily;
    const font = Math.round(px * 0.85) + 'px ' + family;
    const size = chartSize();
    const axis = {
      stroke: axisColor,
      font: font,
      grid: { stroke: gridColor, width: 1 },
      ticks: { stroke: gridColor, width: 1 },
    };
    return {
      width: size.width,
      height: size.height,
      legend: { show: false },
      cursor: { drag: { x: false, y: false, setScale: false }, points: { size: Math.round(px * 0.6) } },
      scales: {
        x: { time: true },
        y: {
          range: function (u, min, max) {
            if (min == null || max == null) return [0, 1];
            const pad = Math.max((max - min) * 0.15, 0.5);
            return [min - pad, max + pad];
          },
        },
      },
      series: [{}].concat(list.map(function (s) {
        return {
          label: s.id,
          stroke: cssVar(style, '--c' + s.color, '#e4572e'),
          width: Math.max(2, px / 8),
          spanGaps: false,
          points: { show: false },
        };
      })),
      axes: [
        Object.assign({ size: Math.round(px * 3.4), space: px * 6 }, axis),
        Object.assign({
          size: Math.round(px * 4),
          space: px * 2.5,
          incrs: Y_STEPS,
          values: function (u, vals, axisIdx, space, incr) {
            const digits = incr < 0.1 ? 2 : incr < 1 ? 1 : 0;
            return vals.map(function (v) { return v.toFixed(digits) + '°'; });
          },
        }, axis),
      ],
      hooks: { setCursor: [showReadout] },
    };
  }

  function showReadout(u) {
    const i = u.cursor.idx;
    if (i == null) {
      ui.readout.textContent = '';
      return;
    }
    const parts = [new Date(u.data[0][i] * 1000).toLocaleTimeString()];
    for (let k = 1; k < u.series.length; k++) {
      const v = u.data[k][i];
      if (v != null) parts.push(u.series[k].label + ' ' + v.toFixed(2) + ' ' + unitLabel());
    }
    ui.readout.textContent = parts.join(' · ');
  }

  function renderChart() {
    const list = Array.from(sensors.values());
    const built = buildData(list);
    ui.chart.dataset.points = String(built.count);
    ui.chart.dataset.lastId = lastId;
    ui.chart.dataset.sensors = String(list.length);
    if (built.count > 0) {
      const first = new Date(built.data[0][0] * 1000);
      ui.historyMeta.textContent = built.count + (built.count === 1 ? ' reading' : ' readings') +
        ' since ' + (Date.now() - first > 86400000 ? first.toLocaleString() : first.toLocaleTimeString());
    }
    if (typeof window.uPlot !== 'function' || list.length === 0) return; // the reading works without it
    const px = fontPx();
    const key = list.map(function (s) { return s.id; }).join('\n') + '|' + unit + '|' + darkQuery.matches + '|' + px;
    if (plot && key === plotKey) {
      plot.setData(built.data);
      return;
    }
    if (plot) plot.destroy();
    plot = new window.uPlot(plotOptions(list, px), built.data, ui.chart);
    plotKey = key;
    ui.chart.dataset.theme = darkQuery.matches ? 'dark' : 'light';
  }

  if (typeof ResizeObserver === 'function') {
    new ResizeObserver(function () {
      if (!plot) return;
      if (plotKey.endsWith('|' + fontPx())) {
        plot.setSize(chartSize());
      } else {
        render(); // the text size changed: build the chart again
      }
    }).observe(ui.chart);
  }
  darkQuery.addEventListener('change', render);

  // ---------------------------------------------------------------------------
  // Controls

  function setUnit(u) {
    unit = u === 'F' ? 'F' : 'C';
    ui.unitButtons.forEach(function (b) { b.setAttribute('aria-pressed', String(b.dataset.unit === unit)); });
  }
  ui.unitButtons.forEach(function (b) {
    b.addEventListener('click', function () {
      setUnit(b.dataset.unit);
      save(UNIT_KEY, unit);
      render();
    });
  });
  setUnit(unit);
  ui.noticeClose.addEventListener('click', function () { ui.notice.hidden = true; });

  window.addEventListener('online', function () {
    if (!source || source.readyState === EventSource.CLOSED) connect();
    updateStatus();
  });
  window.addEventListener('offline', updateStatus);

  setInterval(function () {
    watchdog();
    updateStatus();
    renderAges();
  }, 1000);

  render();
  connect();
  updateStatus();
})();
