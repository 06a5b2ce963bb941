// The temperature page. It follows GET /events with EventSource:
//
//   - The first connection asks for ?lastEventId=earliest, so the chart starts
//     with every reading the server keeps. After that, EventSource sends
//     Last-Event-ID itself on each reconnect (the header wins over the query),
//     so the page gets exactly the readings it missed.
//   - Every reading is kept once (by event ID), per sensor, and drawn with
//     uPlot (vendored under /static/vendor/uplot/), a line per sensor.
//   - A reset event (readings missed, or the server restarted) is shown.
//   - A range switch (live, 1 h, 24 h, 7 d, 30 d; kept in the URL as
//     ?range=24h) shows either those live readings, or the range from
//     GET /api/v1/history (per sensor the average of each bucket and, when
//     buckets hold several readings, the band from low to high) with the
//     live readings that came after the answer appended. Dragging over the
//     chart zooms in: the history API is asked for that span, so the
//     buckets get finer; "Zoom out" or a double click goes back.
//   - The indicator #status (data-state) says connecting, live, reconnecting
//     or offline, from the EventSource's state and the time since the last
//     event. Heartbeats are SSE comments, which EventSource does not surface:
//     an open connection silent for several reading intervals is treated as
//     stalled and opened again.
//
// Event data is never treated as HTML: the page writes with textContent only.
// State a test or a person may read: #status[data-state], and on #chart
// data-points (readings or buckets drawn), data-last-id (last event ID),
// data-sensors, data-range (live, 1h, 24h, 7d, 30d), data-zoom ("1" when
// zoomed in), data-band ("1" when the low–high band is drawn),
// data-buckets (buckets of the history answer drawn), data-live (live
// readings appended after it), data-from and data-to (the span it
// answered), data-first (the oldest point drawn), data-history (memory or
// jetstream), data-loads (history answers drawn), data-loading and
// data-error; #notice[data-reason] when a reset was shown.
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
    rangeButtons: document.querySelectorAll('.ranges button'),
    zoomReset: byId('zoom-reset'),
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

  // colors gives each sensor its colour (0 … COLORS-1), in the order seen,
  // in the stream or in the history API's answers.
  const colors = new Map();
  function colorOf(id) {
    if (!colors.has(id)) colors.set(id, colors.size % COLORS);
    return colors.get(id);
  }

  // parseId splits "<epoch>-<seq>"; null if the ID has another form.
  function parseId(id) {
    const m = /^(.+)-(\d+)$/.exec(id || '');
    return m ? { epoch: m[1], seq: Number(m[2]) } : null;
  }

  function sensorFor(id) {
    let s = sensors.get(id);
    if (!s) {
      s = { id: id, color: colorOf(id), points: [], last: null, gaps: [] };
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
    const view = historyMode() ? historySeries() : null;
    renderReading(view);
    renderSensors();
    renderChart(view);
  }

  // renderReading shows the primary sensor's latest reading, and the low,
  // average and high of what the chart shows of it (view: a history view's
  // series, null when live).
  function renderReading(view) {
    const s = primary();
    ui.unit.textContent = unitLabel();
    if (!s || !s.last) return;
    const text = format(s.last);
    if (ui.temperature.textContent !== text) ui.temperature.textContent = text;
    ui.sensor.textContent = s.id;
    ui.swatch.className = 'swatch c' + s.color;
    renderStats(s, view);
    renderAges();
  }

  // renderStats shows the low, average and high of the sensor's readings
  // held (live), or of its buckets in the history view (weighted by count).
  function renderStats(s, view) {
    let lo = Infinity;
    let hi = -Infinity;
    let sum = 0;
    let n = 0;
    if (view) {
      (view.series.get(s.id) || []).forEach(function (p) {
        if (p.gap) return;
        if (p.min < lo) lo = p.min;
        if (p.max > hi) hi = p.max;
        sum += p.avg * p.count;
        n += p.count;
      });
      if (!n) {
        ui.low.textContent = ui.avg.textContent = ui.high.textContent = '–';
        return;
      }
    } else {
      s.points.forEach(function (p) {
        if (p[1] === null) return;
        if (p[1] < lo) lo = p[1];
        if (p[1] > hi) hi = p[1];
        sum += p[1];
        n++;
      });
      if (!n) return;
    }
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
  // Range: live (the stream's readings, as they come), or a span of
  // GET /api/v1/history (equal-width buckets: low, average, high) with the
  // live readings that came after its end appended. ?range= keeps the choice
  // in the URL; a drag on the chart zooms in (finer buckets of that span).

  const RANGES = { live: 0, '1h': 3600e3, '24h': 24 * 3600e3, '7d': 7 * 24 * 3600e3, '30d': 30 * 24 * 3600e3 };
  const RANGE_NAMES = {
    live: 'Live',
    '1h': 'The last hour',
    '24h': 'The last 24 hours',
    '7d': 'The last 7 days',
    '30d': 'The last 30 days',
  };
  const MAX_BUCKETS = 2000; // the API's limit of points
  const MIN_ZOOM = 2000; // ms: the shortest span a drag zooms into
  const SENSOR_LIST = 100; // sensors in one ?sensor= list (the API's limit)
  const RETRY_HISTORY = 10000; // ms before a failed history request is tried again

  function validRange(r) {
    return typeof r === 'string' && Object.prototype.hasOwnProperty.call(RANGES, r) ? r : 'live';
  }
  function rangeFromURL() {
    return validRange(new URLSearchParams(window.location.search).get('range'));
  }

  let range = rangeFromURL();
  let zoom = null; // {from, to} (ms) while zoomed in
  // hist is the history answer drawn: {key, from, to (ms, as answered),
  // asked (Date.now() of the request), kind, points, bucket (ms: the
  // buckets' width, each at its start t),
  // series: Map id → [{t, min, avg, max, count}], aggregated, buckets}.
  let hist = null;
  let histSeq = 0; // numbers the requests: only the newest one's answer counts
  let histAbort = null;
  let histLoading = false;
  let histError = '';
  let histFailedAt = 0;
  let loads = 0; // history answers drawn since the page loaded

  function historyMode() { return range !== 'live' || zoom !== null; }

  // viewKey names the view asked for, so that an answer for another is not drawn.
  function viewKey() { return zoom ? 'zoom:' + zoom.from + '-' + zoom.to : range; }

  // viewWindow is the span the x axis shows in a history view (ms).
  function viewWindow() {
    if (zoom) return [zoom.from, zoom.to];
    const now = Date.now();
    return [now - RANGES[range], now];
  }

  // bucketsWanted: about one bucket per two pixels of chart.
  function bucketsWanted() {
    return Math.min(MAX_BUCKETS, Math.max(100, Math.round(chartSize().width / 2)));
  }

  function fetchJSON(url, signal) {
    return fetch(url, { headers: { Accept: 'application/json' }, cache: 'no-store', signal: signal })
      .then(function (resp) {
        return resp.json().catch(function () { return null; }).then(function (body) {
          if (!resp.ok) {
            throw new Error(body && typeof body.error === 'string' ? body.error : 'HTTP ' + resp.status);
          }
          if (!body || typeof body !== 'object') throw new Error('the answer is not JSON');
          return body;
        });
      });
  }

  // sensorIds lists the sensors to ask history for: every one the server
  // knows (GET /api/v1/sensors) and every one this page has seen.
  function sensorIds(signal) {
    return fetchJSON('/api/v1/sensors', signal).then(function (body) {
      (Array.isArray(body.sensors) ? body.sensors : []).forEach(function (r) {
        if (r && typeof r.sensor === 'string' && r.sensor) colorOf(r.sensor);
      });
      return Array.from(colors.keys());
    }, function (err) {
      if (err && err.name === 'AbortError') throw err;
      return Array.from(colors.keys()); // the ones seen, then
    });
  }

  function cancelHistory() {
    histSeq++;
    if (histAbort) histAbort.abort();
    histAbort = null;
    histLoading = false;
  }

  // loadHistory asks the history API for the view shown. keep leaves the
  // chart as it is until the answer comes (a refresh of the same view).
  function loadHistory(keep) {
    cancelHistory();
    const seq = histSeq;
    const ctl = typeof AbortController === 'function' ? new AbortController() : null;
    const signal = ctl ? ctl.signal : undefined;
    histAbort = ctl;
    const key = viewKey();
    const win = viewWindow();
    const points = bucketsWanted();
    const asked = Date.now();
    if (!keep) hist = null;
    histLoading = true;
    histError = '';
    scheduleRender();
    sensorIds(signal).then(function (ids) {
      const lists = [];
      for (let i = 0; i < ids.length; i += SENSOR_LIST) lists.push(ids.slice(i, i + SENSOR_LIST));
      return Promise.all(lists.map(function (list) {
        const q = new URLSearchParams();
        q.set('sensor', list.join(','));
        q.set('from', new Date(win[0]).toISOString());
        q.set('to', new Date(win[1]).toISOString());
        q.set('points', String(points));
        return fetchJSON('/api/v1/history?' + q.toString(), signal);
      }));
    }).then(function (answers) {
      if (seq !== histSeq) return;
      hist = parseHistory(answers, key, win, points, asked);
      loads++;
    }, function (err) {
      if (seq !== histSeq) return;
      histError = (err && err.message) || String(err);
      histFailedAt = Date.now();
    }).then(function () {
      if (seq !== histSeq) return;
      histLoading = false;
      histAbort = null;
      scheduleRender();
    });
  }

  function num(v) { return typeof v === 'number' && isFinite(v); }

  // parseHistory keeps what is valid of the history answers (one per list
  // of sensors).
  function parseHistory(answers, key, win, points, asked) {
    const h = {
      key: key, from: win[0], to: win[1], asked: asked, kind: '', points: points,
      series: new Map(), aggregated: false, buckets: 0,
    };
    let width = Infinity; // ms
    answers.forEach(function (body) {
      if (typeof body.history === 'string') h.kind = body.history;
      const from = Date.parse(body.from);
      const to = Date.parse(body.to);
      if (isFinite(from)) h.from = from;
      if (isFinite(to)) h.to = to;
      (Array.isArray(body.series) ? body.series : []).forEach(function (s) {
        if (!s || typeof s.sensor !== 'string' || !s.sensor || !Array.isArray(s.points)) return;
        colorOf(s.sensor);
        if (num(s.widthSeconds) && s.widthSeconds > 0) width = Math.min(width, s.widthSeconds * 1000);
        const pts = [];
        s.points.forEach(function (p) {
          const t = p ? Date.parse(p.t) : NaN;
          if (!isFinite(t) || !num(p.min) || !num(p.avg) || !num(p.max)) return;
          const count = num(p.count) && p.count > 0 ? p.count : 1;
          if (count > 1) h.aggregated = true;
          pts.push({ t: t, min: p.min, avg: p.avg, max: p.max, count: count });
        });
        pts.sort(function (a, b) { return a.t - b.t; });
        h.series.set(s.sensor, pts);
        h.buckets += pts.length;
      });
    });
    // The buckets' width: the answer's widthSeconds, else their spacing
    // (they are aligned to it, so the closest two are one width apart), or
    // the span over the points asked.
    if (!isFinite(width)) h.series.forEach(function (pts) {
      for (let i = 1; i < pts.length; i++) {
        const d = pts[i].t - pts[i - 1].t;
        if (d > 0 && d < width) width = d;
      }
    });
    h.bucket = h.aggregated && isFinite(width) ? width : (h.to - h.from) / points;
    return h;
  }

  // withGaps breaks a sensor's history where it has no bucket for much
  // longer than its usual spacing (the sensor was silent).
  function withGaps(pts) {
    if (pts.length < 3) return pts.slice();
    const d = [];
    for (let i = 1; i < pts.length; i++) d.push(pts[i].t - pts[i - 1].t);
    d.sort(function (a, b) { return a - b; });
    const usual = d[d.length >> 1];
    const out = [pts[0]];
    for (let i = 1; i < pts.length; i++) {
      if (usual > 0 && pts[i].t - pts[i - 1].t > 4 * usual) out.push({ t: pts[i - 1].t + usual, gap: true });
      out.push(pts[i]);
    }
    return out;
  }

  // historySeries is what a history view draws, per sensor: the answer's
  // buckets and the live readings after its end (low = average = high);
  // before the answer comes, the live readings held within the view.
  function historySeries() {
    const out = new Map();
    let tailFrom;
    let tailTo = Infinity;
    if (hist) {
      hist.series.forEach(function (pts, id) { out.set(id, withGaps(pts)); });
      tailFrom = hist.to;
    } else {
      tailFrom = viewWindow()[0];
    }
    if (zoom) tailTo = zoom.to;
    let live = 0;
    sensors.forEach(function (s, id) {
      let list = out.get(id);
      s.points.forEach(function (p) {
        if (!(p[0] >= tailFrom && p[0] <= tailTo)) return;
        if (!list) {
          list = [];
          out.set(id, list);
        }
        if (p[1] === null) {
          list.push({ t: p[0], gap: true });
        } else {
          list.push({ t: p[0], min: p[1], avg: p[1], max: p[1], count: 1 });
          live++;
        }
      });
    });
    return { series: out, live: live };
  }

  // ---------------------------------------------------------------------------
  // Chart

  let plot = null;
  let plotKey = ''; // what the plot was built for: view, sensors, unit, theme, size of text
  let plotMeta = []; // per sensor drawn: {id, avg, min, max} (series indexes; min and max with the band)
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

  // buildHistoryData aligns the history series of list on one time axis:
  // per sensor the low, the high (with the band) and the average.
  function buildHistoryData(list, series, band) {
    const all = [];
    list.forEach(function (s) { series.get(s.id).forEach(function (p) { all.push(p.t); }); });
    all.sort(function (a, b) { return a - b; });
    const xs = all.filter(function (t, i) { return i === 0 || t !== all[i - 1]; });
    const index = new Map();
    xs.forEach(function (t, i) { index.set(t, i); });
    const data = [xs.map(function (t) { return t / 1000; })];
    let count = 0;
    let first = Infinity;
    list.forEach(function (s) {
      const lo = new Array(xs.length).fill(undefined);
      const hi = new Array(xs.length).fill(undefined);
      const avg = new Array(xs.length).fill(undefined);
      series.get(s.id).forEach(function (p) {
        const at = index.get(p.t);
        if (p.gap) {
          if (avg[at] === undefined) lo[at] = hi[at] = avg[at] = null;
          return;
        }
        if (avg[at] === undefined || avg[at] === null) count++;
        lo[at] = toUnit(p.min);
        hi[at] = toUnit(p.max);
        avg[at] = toUnit(p.avg);
        if (p.t < first) first = p.t;
      });
      if (band) data.push(lo, hi);
      data.push(avg);
    });
    return { data: data, count: count, first: first };
  }

  function cssVar(style, name, fallback) {
    return style.getPropertyValue(name).trim() || fallback;
  }

  // alpha gives a #rrggbb colour an opacity.
  function alpha(color, a) {
    const m = /^#([0-9a-f]{6})$/i.exec(color);
    if (!m) return color;
    const n = parseInt(m[1], 16);
    return 'rgba(' + (n >> 16) + ',' + ((n >> 8) & 255) + ',' + (n & 255) + ',' + a + ')';
  }

  // plotOptions builds the chart for list: a line per sensor (live), or per
  // sensor its average and, with band, the band from its low to its high.
  function plotOptions(list, px, hm, band) {
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
    const series = [{}];
    const bands = [];
    plotMeta = [];
    list.forEach(function (s) {
      const color = cssVar(style, '--c' + s.color, '#e4572e');
      const meta = { id: s.id, avg: 0, min: 0, max: 0 };
      if (band) {
        const edge = { stroke: alpha(color, 0.45), width: 1, spanGaps: false, points: { show: false } };
        meta.min = series.length;
        series.push(Object.assign({ label: s.id + ' low' }, edge));
        meta.max = series.length;
        series.push(Object.assign({ label: s.id + ' high' }, edge));
        bands.push({ series: [meta.max, meta.min], fill: alpha(color, 0.2) });
      }
      meta.avg = series.length;
      series.push({
        label: s.id,
        stroke: color,
        width: Math.max(2, px / 8),
        spanGaps: false,
        points: { show: false },
      });
      plotMeta.push(meta);
    });
    const x = { time: true };
    if (hm) {
      // The whole span asked for, even where it holds no reading.
      x.range = function (u, min, max) {
        const w = viewWindow();
        return [w[0] / 1000, Math.max(w[1] / 1000, max == null ? 0 : max)];
      };
    }
    return {
      width: size.width,
      height: size.height,
      legend: { show: false },
      // A drag selects a span, which onSelect zooms into with the history API.
      cursor: { drag: { x: true, y: false, setScale: false }, points: { size: Math.round(px * 0.6) } },
      select: { show: true },
      scales: {
        x: x,
        y: {
          range: function (u, min, max) {
            if (min == null || max == null) return [0, 1];
            const pad = Math.max((max - min) * 0.15, 0.5);
            return [min - pad, max + pad];
          },
        },
      },
      series: series,
      bands: bands,
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
      hooks: { setCursor: [showReadout], setSelect: [onSelect] },
    };
  }

  function showReadout(u) {
    const i = u.cursor.idx;
    if (i == null) {
      ui.readout.textContent = '';
      return;
    }
    const at = new Date(u.data[0][i] * 1000);
    const span = u.scales.x.max - u.scales.x.min;
    const parts = [span > 86400 ? at.toLocaleString() : at.toLocaleTimeString()];
    plotMeta.forEach(function (m) {
      const v = u.data[m.avg][i];
      if (v == null) return;
      let text = m.id + ' ' + v.toFixed(2) + ' ' + unitLabel();
      if (m.min && m.max) {
        const lo = u.data[m.min][i];
        const hi = u.data[m.max][i];
        if (lo != null && hi != null && hi > lo) text += ' (' + lo.toFixed(2) + '–' + hi.toFixed(2) + ')';
      }
      parts.push(text);
    });
    ui.readout.textContent = parts.join(' · ');
  }

  // onSelect zooms into the span dragged over.
  function onSelect(u) {
    const sel = u.select;
    if (!sel || sel.width < 3) return;
    const from = u.posToVal(sel.left, 'x') * 1000;
    const to = u.posToVal(sel.left + sel.width, 'x') * 1000;
    u.setSelect({ left: 0, top: 0, width: 0, height: 0 }, false);
    zoomTo(from, to);
  }

  function fmtDuration(ms) {
    const s = ms / 1000;
    if (s < 1) return ms.toFixed(0) + ' ms';
    if (s < 90) return (s < 10 ? s.toFixed(1) : s.toFixed(0)) + ' s';
    if (s < 5400) return (s / 60).toFixed(s < 600 ? 1 : 0) + ' min';
    if (s < 172800) return (s / 3600).toFixed(1) + ' h';
    return (s / 86400).toFixed(1) + ' d';
  }

  function fmtWhen(ms, span) {
    const d = new Date(ms);
    return span > 86400e3 ? d.toLocaleString() : d.toLocaleTimeString();
  }

  // historyText says what a history view shows.
  function historyText(drawn, live) {
    const w = viewWindow();
    const parts = [zoom ? fmtWhen(w[0], w[1] - w[0]) + ' – ' + fmtWhen(w[1], w[1] - w[0]) : RANGE_NAMES[range]];
    if (hist) {
      if (!hist.buckets) {
        parts.push('no reading kept');
      } else if (hist.aggregated) {
        parts.push('average of each ' + fmtDuration(hist.bucket) + ', low to high shaded');
      } else {
        parts.push(hist.buckets + (hist.buckets === 1 ? ' reading' : ' readings'));
      }
      if (live) parts.push('+ ' + live + ' live');
      if (hist.kind === 'memory') parts.push('history of this process only');
    } else if (histError) {
      parts.push('history unavailable: ' + histError);
    } else {
      parts.push(drawn ? 'loading history… (' + drawn + ' live readings so far)' : 'loading history…');
    }
    return parts.join(' · ');
  }

  function renderChart(view) {
    const hm = view !== null;
    let list;
    let built;
    let live = 0;
    let band = false;
    if (hm) {
      const h = view;
      live = h.live;
      band = !!hist && hist.aggregated;
      list = Array.from(colors.keys()).filter(function (id) { return h.series.has(id); })
        .map(function (id) { return { id: id, color: colorOf(id) }; });
      built = buildHistoryData(list, h.series, band);
      ui.historyMeta.textContent = historyText(built.count, live);
    } else {
      list = Array.from(sensors.values());
      built = buildData(list);
      built.first = built.count ? built.data[0][0] * 1000 : Infinity;
      if (built.count > 0) {
        const first = new Date(built.first);
        ui.historyMeta.textContent = built.count + (built.count === 1 ? ' reading' : ' readings') +
          ' since ' + (Date.now() - first > 86400000 ? first.toLocaleString() : first.toLocaleTimeString());
      } else {
        ui.historyMeta.textContent = '';
      }
    }
    const d = ui.chart.dataset;
    d.range = range;
    d.zoom = zoom ? '1' : '0';
    d.points = String(built.count);
    d.lastId = lastId;
    d.sensors = String(list.length);
    d.band = band ? '1' : '0';
    d.buckets = String(hm && hist ? hist.buckets : 0);
    d.live = String(live);
    d.loads = String(loads);
    d.loading = histLoading ? '1' : '0';
    d.error = hm ? histError : '';
    d.history = hm && hist ? hist.kind : '';
    d.from = hm && hist ? new Date(hist.from).toISOString() : '';
    d.to = hm && hist ? new Date(hist.to).toISOString() : '';
    d.first = isFinite(built.first) ? new Date(built.first).toISOString() : '';
    ui.chart.setAttribute('aria-label', hm
      ? 'Chart: ' + historyText(built.count, live)
      : 'Chart of the readings the server keeps');
    if (typeof window.uPlot !== 'function' || list.length === 0) {
      if (plot && list.length === 0) {
        plot.destroy(); // nothing to draw in this view
        plot = null;
        plotKey = '';
      }
      return; // the reading works without it
    }
    const px = fontPx();
    const key = (hm ? 'history' : 'live') + '|' + band + '|' + list.map(function (s) { return s.id; }).join('\n') +
      '|' + unit + '|' + darkQuery.matches + '|' + px;
    if (plot && key === plotKey) {
      plot.setData(built.data);
      return;
    }
    if (plot) plot.destroy();
    plot = new window.uPlot(plotOptions(list, px, hm, band), built.data, ui.chart);
    plotKey = key;
    d.theme = darkQuery.matches ? 'dark' : 'light';
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
  // Range and zoom controls

  function renderRangeControls() {
    ui.rangeButtons.forEach(function (b) { b.setAttribute('aria-pressed', String(b.dataset.range === range)); });
    ui.zoomReset.hidden = zoom === null;
  }

  // showView asks for what the chart should now show.
  function showView() {
    if (historyMode()) {
      loadHistory(false);
    } else {
      cancelHistory();
      hist = null;
    }
    renderRangeControls();
    scheduleRender();
  }

  function setRange(r, push) {
    range = validRange(r);
    zoom = null;
    if (push) {
      const url = new URL(window.location.href);
      if (range === 'live') {
        url.searchParams.delete('range');
      } else {
        url.searchParams.set('range', range);
      }
      if (url.href !== window.location.href) window.history.pushState({ range: range }, '', url.href);
    }
    showView();
  }

  function zoomTo(from, to) {
    const now = Date.now();
    if (!isFinite(from) || !isFinite(to)) return;
    to = Math.min(to, now);
    if (to - from < MIN_ZOOM) {
      const mid = Math.min((from + to) / 2, now - MIN_ZOOM / 2);
      from = mid - MIN_ZOOM / 2;
      to = mid + MIN_ZOOM / 2;
    }
    zoom = { from: Math.round(from), to: Math.round(to) };
    showView();
  }

  function resetZoom() {
    if (zoom === null) return;
    zoom = null;
    showView();
  }

  // refreshHistory asks again for a range that has moved on (every bucket
  // width, between one and ten minutes), or that failed.
  function refreshHistory() {
    if (range === 'live' || zoom || histLoading) return;
    const now = Date.now();
    if (hist && hist.key === viewKey()) {
      if (now - hist.asked > Math.min(Math.max(hist.bucket, 60e3), 600e3)) loadHistory(true);
    } else if (histError && now - histFailedAt > RETRY_HISTORY) {
      loadHistory(true);
    }
  }

  ui.rangeButtons.forEach(function (b) {
    b.addEventListener('click', function () { setRange(b.dataset.range, true); });
  });
  ui.zoomReset.addEventListener('click', resetZoom);
  ui.chart.addEventListener('dblclick', resetZoom);
  window.addEventListener('popstate', function () { setRange(rangeFromURL(), false); });

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
    refreshHistory();
  }, 1000);

  render();
  connect();
  showView();
  updateStatus();
})();
