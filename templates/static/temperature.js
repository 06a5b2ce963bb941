// The temperature page, for one sensor or a few hundred. It follows
// GET /events with EventSource:
//
//   - The first connection asks for ?lastEventId=earliest, so the chart starts
//     with every reading the server keeps. After that, EventSource sends
//     Last-Event-ID itself on each reconnect (the header wins over the query),
//     so the page gets exactly the readings it missed.
//   - Every sensor is a tile (li[data-sensor]): its name, latest value, trend,
//     how long ago it reported, and "stale" after three of its usual
//     intervals of silence. GET /api/v1/sensors fills the tiles at once.
//   - One sensor is focused (shown large in #temperature; a click or Enter on
//     its tile); others can be pinned. The chart draws the focused and
//     pinned sensors only, at most eight lines, each its own colour and
//     dash from a palette made for colour-blind readers (Okabe and Ito),
//     with a legend (#legend) giving each line's value under the cursor.
//     The choice is kept in the URL (?focus=a&pin=b,c) and in localStorage.
//   - Past twelve sensors a filter box narrows the tiles by name, and tiles
//     can be grouped by the prefix of their IDs before a dot or dash.
//   - Work is done once a display frame at most, and only for what changed:
//     the tiles of the sensors that reported, the chart when a sensor it
//     draws did.
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
// data-sensors (lines drawn), data-range (live, 1h, 24h, 7d, 30d), data-zoom
// ("1" when zoomed in), data-band ("1" when the low–high band is drawn),
// data-buckets (buckets of the history answer drawn), data-live (live
// readings appended after it), data-from and data-to (the span it
// answered), data-first (the oldest point drawn), data-history (memory or
// jetstream), data-loads (history answers drawn), data-loading and
// data-error; #notice[data-reason] when a reset was shown; on each tile
// data-sensor, data-trend (rising, falling, steady), data-stale,
// data-focused and data-pinned; #tiles[data-frame-ms] (the longest frame's
// work, ms).
'use strict';
(function () {
  const UNIT_KEY = 'tempstream.unit';
  const FOCUS_KEY = 'tempstream.sensor';
  const PINS_KEY = 'tempstream.pins';
  const GROUP_KEY = 'tempstream.group';
  const MAX_POINTS = 10000; // readings kept of a sensor the chart draws
  const MIN_POINTS = 240; // … and of any other (its backfill comes when it is drawn)
  const MAX_LINES = 8; // sensors the chart draws: the palette's size
  const TILE_BUDGET = 6; // ms of tile updates a frame; the rest wait for the next
  const FILTER_PAST = 12; // more sensors than this: the filter box and grouping
  const TREND_READINGS = 6; // readings a tile's trend is taken over
  const STEADY = 0.1; // °C: a change over them smaller than this is steady
  const STALE_AFTER = 3; // usual intervals of silence before a sensor is stale
  const OFFLINE_AFTER = 15000; // ms without a connection before "reconnecting" becomes "offline"
  const MIN_SILENCE = 5000; // ms: the shortest silence taken for a stalled connection
  const DEFAULT_SILENCE = 45000; // ms: the silence limit while the reading interval is unknown
  const Y_STEPS = [0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000];
  // Line styles of the eight slots: --c0 … --c7 in temperature.css with these
  // dashes (canvas, in CSS pixels), so that two lines whose colours a reader
  // cannot tell apart still differ.
  const DASHES = [null, null, null, null, [8, 5], [8, 5], [8, 5], [8, 5]];
  const LABELS = {
    connecting: 'Connecting…',
    live: 'Live',
    reconnecting: 'Reconnecting…',
    offline: 'Offline, retrying',
  };
  const TRENDS = { rising: '↗', falling: '↘', steady: '→' };

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
    tiles: byId('tiles'),
    tilesCount: byId('tiles-count'),
    tilesNote: byId('tiles-note'),
    finder: byId('finder'),
    filter: byId('filter'),
    group: byId('group'),
    status: byId('status'),
    statusText: byId('status-text'),
    notice: byId('notice'),
    noticeText: byId('notice-text'),
    noticeClose: byId('notice-close'),
    chart: byId('chart'),
    legend: byId('legend'),
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

  // sensors: id → {id, points: [[ms, celsius or null (a gap)]], last, gaps,
  // usual (ms: the median gap, 0 while unknown)}
  const sensors = new Map();
  let lastId = ''; // the last event ID seen
  let lastEpoch = '';
  let lastSeq = 0;
  let unit = load(UNIT_KEY) === 'F' ? 'F' : 'C';

  // The tiles' order: sensor IDs compared as text with their numbers as
  // numbers (sim-2 before sim-10).
  const collator = new Intl.Collator(undefined, { numeric: true, sensitivity: 'base' });
  let order = []; // sensor IDs in that order
  let orderDirty = false;

  // parseId splits "<epoch>-<seq>"; null if the ID has another form.
  function parseId(id) {
    const m = /^(.+)-(\d+)$/.exec(id || '');
    return m ? { epoch: m[1], seq: Number(m[2]) } : null;
  }

  function sensorFor(id) {
    let s = sensors.get(id);
    if (!s) {
      s = { id: id, points: [], last: null, gaps: [], usual: 0 };
      sensors.set(id, s);
      order.push(id);
      orderDirty = true;
      sorted = false;
    }
    return s;
  }

  // addPoint keeps s.points in time order (readings of one sensor come in
  // order; the search is for clocks that step back), at most cap of them.
  function addPoint(s, at, celsius, cap) {
    const pts = s.points;
    let i = pts.length;
    while (i > 0 && pts[i - 1][0] > at) i--;
    if (i > 0 && pts[i - 1][0] === at && celsius !== null) {
      pts[i - 1][1] = celsius; // held already (the stream and a backfill both had it)
      return;
    }
    if (i > 0 && celsius !== null && i === pts.length && pts[i - 1][1] !== null) {
      s.gaps.push(at - pts[i - 1][0]);
      if (s.gaps.length > 16) s.gaps.shift();
      if (s.gaps.length >= 2) {
        const g = s.gaps.slice().sort(function (a, b) { return a - b; });
        s.usual = g[g.length >> 1];
      }
    }
    pts.splice(i, 0, [at, celsius]);
    if (pts.length > cap) pts.splice(0, pts.length - cap);
  }

  // capOf is how many readings a sensor keeps: all the chart may draw if
  // it is drawn, a few otherwise (its trend, its usual interval).
  function capOf(id) {
    return isCharted(id) ? MAX_POINTS : MIN_POINTS;
  }

  // remember records a reading of sensor name.
  function remember(name, at, celsius, data) {
    const s = sensorFor(name);
    addPoint(s, at, celsius, capOf(name));
    if (!s.last || at >= s.last.at) {
      s.last = { celsius: celsius, data: data, at: at };
    }
    markDirty(name);
  }

  // interval estimates the time between readings (ms): the usual interval
  // of the sensor that reports most often; 0 while unknown.
  function interval() {
    let best = 0;
    sensors.forEach(function (s) {
      if (s.usual > 0 && (!best || s.usual < best)) best = s.usual;
    });
    return best;
  }

  // silenceLimit is how long an open connection may stay without an event
  // before it counts as stalled.
  function silenceLimit() {
    const iv = interval();
    return iv ? Math.max(MIN_SILENCE, 5 * iv) : DEFAULT_SILENCE;
  }

  // trendOf says whether s is rising, falling or steady over its last
  // readings ('' with fewer than three): the change along a straight line
  // fitted through them.
  function trendOf(s) {
    const v = [];
    for (let i = s.points.length - 1; i >= 0 && v.length < TREND_READINGS; i--) {
      if (s.points[i][1] !== null) v.unshift(s.points[i][1]);
    }
    const n = v.length;
    if (n < 3) return '';
    let sx = 0;
    let sy = 0;
    let sxy = 0;
    let sxx = 0;
    for (let i = 0; i < n; i++) {
      sx += i;
      sy += v[i];
      sxy += i * v[i];
      sxx += i * i;
    }
    const slope = (n * sxy - sx * sy) / (n * sxx - sx * sx);
    const change = slope * (n - 1);
    if (change > STEADY) return 'rising';
    if (change < -STEADY) return 'falling';
    return 'steady';
  }

  // staleOf: silent for STALE_AFTER of its usual intervals (of the
  // quickest sensor's while its own is unknown).
  function staleOf(s, now, quickest) {
    const usual = s.usual || quickest;
    return !!s.last && usual > 0 && now - s.last.at > STALE_AFTER * usual;
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
    remember(name, at, msg.celsius, typeof msg.data === 'string' ? msg.data : '');
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
        if (n && s.points[n - 1][1] !== null) addPoint(s, s.points[n - 1][0] + 1, null, capOf(s.id));
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
    chartDirty = true;
    scheduleRender();
  }

  // seed fills the tiles from GET /api/v1/sensors (every sensor's latest
  // reading), so a sensor that reports rarely has its tile at once.
  function seed() {
    return fetchJSON('/api/v1/sensors').then(function (body) {
      (Array.isArray(body.sensors) ? body.sensors : []).forEach(function (r) {
        if (!r || typeof r.sensor !== 'string' || !r.sensor || !num(r.celsius)) return;
        const at = Date.parse(r.at);
        if (!isFinite(at) || sensors.has(r.sensor)) return; // the stream's is as new
        sensorFor(r.sensor).last = { celsius: r.celsius, data: typeof r.data === 'string' ? r.data : '', at: at };
        markDirty(r.sensor);
      });
      scheduleRender();
    }, function () { /* the stream fills them */ });
  }

  // backfill gives a sensor newly drawn in the live chart the readings the
  // server keeps of it that are older than those held (GET /api/v1/readings).
  const backfilled = new Set();
  function backfill(id) {
    if (backfilled.has(id)) return;
    backfilled.add(id);
    const q = new URLSearchParams({ sensor: id, limit: String(MAX_POINTS) });
    fetchJSON('/api/v1/readings?' + q.toString()).then(function (body) {
      const s = sensorFor(id);
      const list = Array.isArray(body.readings) ? body.readings : [];
      const oldest = s.points.length ? s.points[0][0] : Infinity;
      let added = 0;
      list.forEach(function (r) {
        const at = r ? Date.parse(r.at) : NaN;
        if (!isFinite(at) || !num(r.celsius) || at >= oldest) return;
        addPoint(s, at, r.celsius, capOf(id));
        added++;
      });
      if (added) {
        chartDirty = true;
        scheduleRender();
      }
    }, function () { backfilled.delete(id); });
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
  // Focus and pins: the sensor shown large, and those drawn with it. Kept
  // in the URL (?focus=a&pin=b,c, once chosen) and in localStorage; the URL
  // wins, so a link shows what its sender saw.

  const MAX_ID = 128; // longer is not a sensor ID: ignored

  function cleanIds(list) {
    const out = [];
    list.forEach(function (id) {
      if (typeof id === 'string' && id && id.length <= MAX_ID && out.indexOf(id) < 0) out.push(id);
    });
    return out;
  }

  let focus = '';
  let pins = [];
  (function readChoice() {
    const q = new URLSearchParams(window.location.search);
    if (q.has('focus') || q.has('pin')) {
      focus = cleanIds([q.get('focus') || ''])[0] || '';
      pins = cleanIds((q.get('pin') || '').split(','));
      return;
    }
    focus = cleanIds([load(FOCUS_KEY) || ''])[0] || '';
    let stored = [];
    try { stored = JSON.parse(load(PINS_KEY) || '[]'); } catch (e) { /* none */ }
    pins = cleanIds(Array.isArray(stored) ? stored : []);
  })();
  pins = pins.filter(function (id) { return id !== focus; }).slice(0, MAX_LINES - 1);

  function saveChoice() {
    save(FOCUS_KEY, focus);
    save(PINS_KEY, JSON.stringify(pins));
    const url = new URL(window.location.href);
    if (focus) url.searchParams.set('focus', focus); else url.searchParams.delete('focus');
    if (pins.length) url.searchParams.set('pin', pins.join(',')); else url.searchParams.delete('pin');
    url.search = url.search.replace(/%2C/gi, ','); // a list reads as one: pin=a,b
    if (url.href !== window.location.href) window.history.replaceState(window.history.state, '', url.href);
  }

  // primary is the focused sensor: the one chosen, else the first tile.
  function primary() {
    return sensors.get(focus) || (order.length ? sensors.get(sortedOrder()[0]) : null);
  }

  // charted lists the sensors the chart draws: the focused one, then the
  // pinned ones, at most MAX_LINES.
  function charted() {
    const p = primary();
    const out = p ? [p.id] : [];
    pins.forEach(function (id) {
      if (out.length < MAX_LINES && out.indexOf(id) < 0) out.push(id);
    });
    return out;
  }
  let chartedNow = []; // charted() as of the last render
  function isCharted(id) { return chartedNow.indexOf(id) >= 0; }

  // slots gives each drawn sensor its line style (0 … MAX_LINES-1): kept
  // while it is drawn, the lowest free one when it starts being drawn.
  const slots = new Map();
  function syncSlots() {
    const now = charted();
    const changed = now.join('\n') !== chartedNow.join('\n');
    chartedNow = now;
    slots.forEach(function (slot, id) { if (now.indexOf(id) < 0) slots.delete(id); });
    now.forEach(function (id) {
      if (slots.has(id)) return;
      const used = new Set(slots.values());
      let slot = 0;
      while (used.has(slot)) slot++;
      slots.set(id, slot);
    });
    if (changed) {
      chartDirty = true;
      allDirty = true;
      now.forEach(function (id) { if (sensors.has(id)) backfill(id); });
      if (historyMode()) loadHistory(true);
    }
  }

  function setFocus(id) {
    if (!sensors.has(id)) return;
    focus = id;
    pins = pins.filter(function (p) { return p !== id; });
    saveChoice();
    note('');
    render();
  }

  function togglePin(id) {
    const at = pins.indexOf(id);
    if (at >= 0) {
      pins.splice(at, 1);
      note('');
    } else if (primary() && primary().id === id) {
      note(id + ' is focused: the chart draws it already.');
      return;
    } else if (charted().length >= MAX_LINES) {
      note('The chart draws at most ' + MAX_LINES + ' sensors: unpin one first.');
      return;
    } else {
      pins.push(id);
      note('');
    }
    saveChoice();
    render();
  }

  function note(text) {
    if (ui.tilesNote.textContent !== text) ui.tilesNote.textContent = text;
  }

  // ---------------------------------------------------------------------------
  // Tiles: one a sensor, updated only when it reports (or the unit, the
  // focus or the pins change). Past FILTER_PAST sensors, a filter box and
  // grouping by prefix.

  const tileOf = new Map(); // id → {li, main, pin, name, value, trend, ago, stale, text: {...}}
  const dirty = new Set(); // sensors whose tile is out of date
  let allDirty = false;
  let chartDirty = true;
  let filterText = '';
  let grouped = load(GROUP_KEY) === '1';

  function markDirty(id) {
    dirty.add(id);
    if (isCharted(id)) chartDirty = true;
  }

  let sorted = true;
  function sortedOrder() {
    if (!sorted) {
      order.sort(collator.compare);
      sorted = true;
    }
    return order;
  }

  // prefixOf is a sensor's group: its ID before the first dot or dash
  // ("lab" of lab.1 and lab-2); '' when it has none.
  function prefixOf(id) {
    const m = /^([^.\-]+)[.\-]./.exec(id);
    return m ? m[1] : '';
  }

  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text) e.textContent = text;
    return e;
  }

  function makeTile(id) {
    const li = el('li', 'tile');
    li.dataset.sensor = id;
    const main = el('button', 'tile-main');
    main.type = 'button';
    main.setAttribute('aria-pressed', 'false');
    const name = el('span', 'tile-name', id);
    name.title = id;
    const value = el('span', 'tile-value', '–');
    const trend = el('span', 'tile-trend');
    trend.setAttribute('role', 'img');
    const when = el('time', 'tile-ago');
    const stale = el('span', 'tile-stale', 'stale');
    stale.hidden = true;
    main.append(name, value, trend, when, stale);
    main.addEventListener('click', function () { setFocus(id); });
    const pin = el('button', 'pin');
    pin.type = 'button';
    pin.setAttribute('aria-pressed', 'false');
    pin.setAttribute('aria-label', 'Pin ' + id + ' to the chart');
    pin.title = 'Pin to the chart';
    pin.append(el('span', 'pin-mark'));
    pin.addEventListener('click', function () { togglePin(id); });
    li.append(main, pin);
    const t = { li: li, main: main, pin: pin, name: name, value: value, trend: trend, ago: when, stale: stale, text: {} };
    tileOf.set(id, t);
    return t;
  }

  // set writes a tile's text or attribute only when it changed.
  function setText(t, key, node, text) {
    if (t.text[key] !== text) {
      t.text[key] = text;
      node.textContent = text;
    }
  }
  function setData(t, key, value) {
    if (t.text['@' + key] !== value) {
      t.text['@' + key] = value;
      t.li.dataset[key] = value;
    }
  }

  function updateTile(id, focusedId, now, quickest) {
    const s = sensors.get(id);
    const t = tileOf.get(id);
    if (!s || !t) return;
    const focused = id === focusedId;
    const pinned = pins.indexOf(id) >= 0;
    const slot = slots.has(id) ? slots.get(id) : -1;
    setData(t, 'focused', String(focused));
    setData(t, 'pinned', String(pinned));
    setData(t, 'slot', String(slot));
    if (t.text.pressed !== focused) {
      t.text.pressed = focused;
      t.main.setAttribute('aria-pressed', String(focused));
    }
    if (t.text.pinned !== pinned) {
      t.text.pinned = pinned;
      t.pin.setAttribute('aria-pressed', String(pinned));
      t.pin.title = pinned ? 'Unpin from the chart' : 'Pin to the chart';
    }
    if (!s.last) return;
    setText(t, 'value', t.value, format(s.last) + ' ' + unitLabel());
    const trend = trendOf(s);
    setData(t, 'trend', trend);
    setText(t, 'trend', t.trend, trend ? TRENDS[trend] : '');
    if (t.text.trendLabel !== trend) {
      t.text.trendLabel = trend;
      if (trend) t.trend.setAttribute('aria-label', trend); else t.trend.removeAttribute('aria-label');
    }
    if (t.text.at !== s.last.at) {
      t.text.at = s.last.at;
      t.ago.dateTime = new Date(s.last.at).toISOString();
    }
    updateAge(t, s, now, quickest);
  }

  function updateAge(t, s, now, quickest) {
    if (!s.last) return;
    setText(t, 'ago', t.ago, ago(now - s.last.at));
    const stale = staleOf(s, now, quickest);
    setData(t, 'stale', String(stale));
    if (t.stale.hidden === stale) t.stale.hidden = !stale;
  }

  // layoutTiles puts the tiles in order, in one grid or a grid a group.
  function layoutTiles() {
    orderDirty = false;
    sorted = false;
    const ids = sortedOrder();
    ids.forEach(function (id) { if (!tileOf.has(id)) makeTile(id); });
    const groups = new Map(); // prefix → [id]
    const byGroup = grouped && ids.length > FILTER_PAST;
    ids.forEach(function (id) {
      const g = byGroup ? prefixOf(id) : '';
      if (!groups.has(g)) groups.set(g, []);
      groups.get(g).push(id);
    });
    const frag = document.createDocumentFragment();
    const names = Array.from(groups.keys()).sort(function (a, b) {
      if (!a || !b) return a ? -1 : b ? 1 : 0; // sensors without a prefix last
      return collator.compare(a, b);
    });
    names.forEach(function (g) {
      const grid = el('ul', 'grid');
      groups.get(g).forEach(function (id) { grid.append(tileOf.get(id).li); });
      if (!byGroup) {
        grid.setAttribute('aria-label', 'Sensors');
        frag.append(grid);
        return;
      }
      const section = el('section', 'group');
      section.dataset.group = g;
      const title = el('h3', 'group-title', (g || 'Other') + ' ');
      title.append(el('span', 'group-count', '(' + groups.get(g).length + ')'));
      grid.setAttribute('aria-label', g ? 'Sensors ' + g : 'Other sensors');
      section.append(title, grid);
      frag.append(section);
    });
    ui.tiles.replaceChildren(frag);
    applyFilter();
    allDirty = true;
  }

  // applyFilter hides the tiles whose name does not hold the filter's text.
  function applyFilter() {
    const q = tileOf.size > FILTER_PAST ? filterText.trim().toLowerCase() : '';
    let shown = 0;
    tileOf.forEach(function (t, id) {
      const hide = q !== '' && id.toLowerCase().indexOf(q) < 0;
      if (t.li.hidden !== hide) t.li.hidden = hide;
      if (!hide) shown++;
    });
    ui.tiles.querySelectorAll('.group').forEach(function (g) {
      const any = g.querySelector('.tile:not([hidden])') !== null;
      if (g.hidden === any) g.hidden = !any;
    });
    const n = tileOf.size;
    ui.tilesCount.textContent = q ? shown + ' of ' + n : String(n);
    ui.tiles.dataset.shown = String(shown);
  }

  function renderTiles() {
    const many = sensors.size > FILTER_PAST;
    if (ui.finder.hidden === many) ui.finder.hidden = !many;
    if (orderDirty) layoutTiles();
    const now = Date.now();
    const quickest = interval();
    const p = primary();
    const focusedId = p ? p.id : '';
    if (allDirty) {
      allDirty = false;
      tileOf.forEach(function (t, id) { dirty.add(id); });
    }
    // In pieces: what does not fit in this frame's budget waits for the next.
    const began = performance.now();
    for (const id of dirty) {
      updateTile(id, focusedId, now, quickest);
      dirty.delete(id);
      if (performance.now() - began > TILE_BUDGET) break;
    }
    if (dirty.size) scheduleRender();
  }

  // renderTileAges updates every tile's "how long ago" and "stale" (each second).
  function renderTileAges() {
    const now = Date.now();
    const quickest = interval();
    tileOf.forEach(function (t, id) {
      const s = sensors.get(id);
      if (s) updateAge(t, s, now, quickest);
    });
  }

  ui.filter.addEventListener('input', function () {
    filterText = ui.filter.value;
    applyFilter();
  });
  ui.group.checked = grouped;
  ui.group.addEventListener('change', function () {
    grouped = ui.group.checked;
    save(GROUP_KEY, grouped ? '1' : '0');
    layoutTiles();
    scheduleRender();
  });

  // ---------------------------------------------------------------------------
  // View

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

  // The view is drawn at most once a frame, and only what changed: a replay
  // of thousands of events on connect is drawn once, and a hidden page draws
  // nothing until shown.
  let renderPending = false;

  function scheduleRender() {
    if (renderPending) return;
    renderPending = true;
    window.requestAnimationFrame(render);
  }

  function render() {
    const began = performance.now();
    renderPending = false;
    syncSlots();
    renderTiles();
    if (chartDirty) {
      // The focused sensor is drawn: its news makes the chart dirty too.
      chartDirty = false;
      const view = historyMode() ? historySeries() : null;
      renderReading(view);
      renderChart(view);
    }
    // The longest render; a test may delete the attribute to measure anew.
    const took = performance.now() - began;
    if (!(took <= Number(ui.tiles.dataset.frameMs))) ui.tiles.dataset.frameMs = took.toFixed(1);
  }

  // renderReading shows the focused sensor's latest reading, and the low,
  // average and high of what the chart shows of it (view: a history view's
  // series, null when live).
  function renderReading(view) {
    const s = primary();
    ui.unit.textContent = unitLabel();
    if (!s || !s.last) return;
    const text = format(s.last);
    if (ui.temperature.textContent !== text) ui.temperature.textContent = text;
    if (ui.sensor.textContent !== s.id) {
      ui.sensor.textContent = s.id;
      ui.sensor.title = s.id;
    }
    ui.swatch.className = 'swatch c' + (slots.has(s.id) ? slots.get(s.id) : 0);
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
      if (!n) {
        lo = hi = sum = s.last.celsius;
        n = 1;
      }
    }
    ui.low.textContent = toUnit(lo).toFixed(2);
    ui.avg.textContent = toUnit(sum / n).toFixed(2);
    ui.high.textContent = toUnit(hi).toFixed(2);
  }

  // renderAges updates the focused reading's "how long ago".
  function renderAges() {
    const s = primary();
    if (s && s.last) {
      setAgo(ui.ago, s.last.at);
      ui.reading.dataset.stale = String(staleOf(s, Date.now(), interval()));
    }
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

  // sensorIds lists the sensors to ask history for: those the chart draws,
  // once the first is known (GET /api/v1/sensors).
  function sensorIds(signal) {
    if (chartedNow.length) return Promise.resolve(chartedNow.slice());
    return seeded.then(function () {
      syncSlots();
      return chartedNow.slice();
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
    chartDirty = true;
    scheduleRender();
    sensorIds(signal).then(function (ids) {
      if (!ids.length) return [];
      const q = new URLSearchParams();
      q.set('sensor', ids.join(','));
      q.set('from', new Date(win[0]).toISOString());
      q.set('to', new Date(win[1]).toISOString());
      q.set('points', String(points));
      return fetchJSON('/api/v1/history?' + q.toString(), signal).then(function (body) { return [body]; });
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
      chartDirty = true;
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
    chartedNow.forEach(function (id) {
      const s = sensors.get(id);
      if (!s) return;
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

  // chartSize is the chart's box, as the ResizeObserver last reported it
  // (reading it from the element would lay out the page mid-frame).
  let chartBox = null;
  function chartSize() {
    if (!chartBox) chartBox = { width: ui.chart.clientWidth, height: ui.chart.clientHeight };
    return { width: Math.max(chartBox.width, 200), height: Math.max(chartBox.height, 150) };
  }

  // fontPx is the chart's text size, read again when the chart resizes.
  let chartFont = 0;
  function fontPx() {
    if (!chartFont) chartFont = parseFloat(getComputedStyle(ui.chart).fontSize) || 14;
    return chartFont;
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
      const color = cssVar(style, '--c' + s.slot, '#0072b2');
      const dash = DASHES[s.slot] || undefined;
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
        dash: dash,
        width: Math.max(2, px / 8),
        spanGaps: false,
        points: { show: false },
      });
      plotMeta.push(meta);
    });
    const x = { time: true };
    if (!hm) {
      // One reading (or several at one time): a minute around it, not years.
      x.range = function (u, min, max) {
        if (min == null || max == null) return [Date.now() / 1000 - 60, Date.now() / 1000];
        return max - min < 1 ? [min - 30, max + 30] : [min, max];
      };
    }
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

  // showReadout shows the time under the cursor, and each line's value
  // there in the legend (its latest value when the cursor is off the chart).
  function showReadout(u) {
    const i = u.cursor.idx;
    if (i == null) {
      ui.readout.textContent = '';
      legendValues(null);
      return;
    }
    const at = new Date(u.data[0][i] * 1000);
    const span = u.scales.x.max - u.scales.x.min;
    ui.readout.textContent = span > 86400 ? at.toLocaleString() : at.toLocaleTimeString();
    legendValues(function (m) {
      const v = u.data[m.avg][i];
      if (v == null) return '–';
      let text = v.toFixed(2) + ' ' + unitLabel();
      if (m.min && m.max) {
        const lo = u.data[m.min][i];
        const hi = u.data[m.max][i];
        if (lo != null && hi != null && hi > lo) text += ' (' + lo.toFixed(2) + '–' + hi.toFixed(2) + ')';
      }
      return text;
    });
  }

  // legendItems: id → {li, value} of the legend's entries, one a line drawn.
  let legendItems = new Map();
  let cursorOn = false;

  function renderLegend(list) {
    const key = list.map(function (s) { return s.id + ':' + s.slot; }).join('\n');
    if (ui.legend.dataset.key !== key) {
      ui.legend.dataset.key = key;
      legendItems = new Map();
      const frag = document.createDocumentFragment();
      list.forEach(function (s) {
        const li = el('li', 'legend-item');
        li.dataset.sensor = s.id;
        li.dataset.slot = String(s.slot);
        const name = el('span', 'legend-name', s.id);
        name.title = s.id;
        const value = el('span', 'legend-value');
        li.append(el('span', 'line c' + s.slot), name, value);
        frag.append(li);
        legendItems.set(s.id, { li: li, value: value });
      });
      ui.legend.replaceChildren(frag);
      ui.legend.hidden = list.length === 0;
    }
    if (!cursorOn) legendValues(null);
  }

  // legendValues writes each legend entry's value: of (meta) at the
  // cursor, or each sensor's latest reading when of is null.
  function legendValues(of) {
    cursorOn = of !== null;
    if (of) {
      plotMeta.forEach(function (m) {
        const item = legendItems.get(m.id);
        if (item) item.value.textContent = of(m);
      });
      return;
    }
    legendItems.forEach(function (item, id) {
      const s = sensors.get(id);
      item.value.textContent = s && s.last ? format(s.last) + ' ' + unitLabel() : '–';
    });
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
      list = chartedNow.filter(function (id) { return h.series.has(id); })
        .map(function (id) { return { id: id, slot: slots.get(id) }; });
      built = buildHistoryData(list, h.series, band);
      ui.historyMeta.textContent = historyText(built.count, live);
    } else {
      list = chartedNow.filter(function (id) { return sensors.has(id); })
        .map(function (id) { return { id: id, slot: slots.get(id), points: sensors.get(id).points }; });
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
    renderLegend(list);
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
    const key = (hm ? 'history' : 'live') + '|' + band + '|' + list.map(function (s) { return s.id + ':' + s.slot; }).join('\n') +
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
    new ResizeObserver(function (entries) {
      const r = entries[entries.length - 1].contentRect;
      chartBox = { width: Math.round(r.width), height: Math.round(r.height) };
      chartFont = 0;
      if (!plot) return;
      if (plotKey.endsWith('|' + fontPx())) {
        plot.setSize(chartSize());
      } else {
        chartDirty = true; // the text size changed: build the chart again
        render();
      }
    }).observe(ui.chart);
  }
  darkQuery.addEventListener('change', function () {
    chartDirty = true;
    render();
  });

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
    chartDirty = true;
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
      url.search = url.search.replace(/%2C/gi, ',');
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
      chartDirty = allDirty = true;
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
    renderTileAges();
    refreshHistory();
  }, 1000);

  const seeded = seed();
  render();
  connect();
  showView();
  updateStatus();
})();
