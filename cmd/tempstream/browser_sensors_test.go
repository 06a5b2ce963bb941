package main

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// TestBrowserSensors: the page with 1, 12 and 200 simulated sensors, each
// publishing once a second, in a real chromium. At 390×844, 1366×768 and
// 1920×1080 (and, without a screenshot, at 360 and 3840 pixels wide): a
// tile per sensor, no two tiles overlapping, no tile's text outside it, no
// sensor name over two lines, and the header, #temperature and the chart
// clear of one another. Over 8 s of steady publishing no main-thread task
// takes 100 ms or more (a PerformanceObserver for longtask). Focusing and
// pinning work from the keyboard, the chart draws just those sensors with
// a legend entry each, and the choice survives a reload. Past twelve
// sensors the filter box narrows the tiles and grouping by prefix groups
// them. Screenshots of each case are saved and named in the output.
//
// Not parallel, like TestBrowserPage: its long-task check measures the page,
// not a busy machine.
func TestBrowserSensors(t *testing.T) {
	requireChromium(t)
	for _, n := range []int{1, 12, 200} {
		t.Run(strconv.Itoa(n), func(t *testing.T) { browseSensors(t, n) })
	}
}

// viewport is one screen the page is checked on.
type viewport struct {
	name          string
	width, height int64
	scale         float64
	mobile        bool
	scheme        string
	shot          bool // save a screenshot
}

var sensorViewports = []viewport{
	{"phone", 390, 844, 2, true, "dark", true},
	{"laptop", 1366, 768, 1, false, "light", true},
	{"desktop", 1920, 1080, 1, false, "light", true},
	{"narrow", 360, 740, 1, true, "light", false},
	{"wall", 3840, 2160, 1, false, "dark", false},
}

// tilesState is what the tiles show, read in one evaluation.
type tilesState struct {
	Sensors []string `json:"sensors"` // data-sensor of every tile, in order
	Shown   int      `json:"shown"`   // tiles not hidden by the filter
	Valued  int      `json:"valued"`  // tiles showing a reading
	Finder  bool     `json:"finder"`  // the filter box is shown
	Groups  []string `json:"groups"`  // data-group of the groups shown, in order
	Focused []string `json:"focused"` // tiles with data-focused=true
	Pinned  []string `json:"pinned"`  // tiles with data-pinned=true
	Stale   []string `json:"stale"`   // tiles with data-stale=true
	Trends  int      `json:"trends"`  // tiles shown with a trend (rising, falling or steady)
	Legend  []string `json:"legend"`  // data-sensor of the legend's entries
	Values  []string `json:"values"`  // the legend's values
	FrameMs string   `json:"frameMs"` // the longest render, ms
}

const tilesStateJS = `(() => {
  const all = (sel) => Array.from(document.querySelectorAll(sel));
  return {
    sensors: all('#tiles .tile').map((t) => t.dataset.sensor),
    shown: all('#tiles .tile:not([hidden])').length,
    valued: all('#tiles .tile .tile-value').filter((v) => /\d/.test(v.textContent)).length,
    finder: !document.getElementById('finder').hidden,
    groups: all('#tiles .group:not([hidden])').map((g) => g.dataset.group),
    focused: all('#tiles .tile[data-focused="true"]').map((t) => t.dataset.sensor),
    pinned: all('#tiles .tile[data-pinned="true"]').map((t) => t.dataset.sensor),
    stale: all('#tiles .tile[data-stale="true"]').map((t) => t.dataset.sensor),
    trends: all('#tiles .tile:not([hidden])').filter((t) => /^(rising|falling|steady)$/.test(t.dataset.trend || '')).length,
    legend: all('#legend .legend-item').map((t) => t.dataset.sensor),
    values: all('#legend .legend-value').map((t) => t.textContent),
    frameMs: document.getElementById('tiles').dataset.frameMs || '',
  };
})()`

func (b *browser) tiles() tilesState {
	b.t.Helper()
	st, err := eval[tilesState](b, tilesStateJS)
	if err != nil {
		b.t.Fatalf("reading the tiles: %v", err)
	}
	return st
}

// waitTiles polls the tiles until cond holds, for at most timeout.
func (b *browser) waitTiles(timeout time.Duration, what string, cond func(tilesState) bool) tilesState {
	b.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		st := b.tiles()
		if cond(st) {
			return st
		}
		if time.Now().After(deadline) {
			b.t.Fatalf("%s: not within %v; the tiles show %+v", what, timeout, st)
		}
		b.waitFrame()
	}
}

// waitFrame waits for the page's next display frame (or 50 ms at most),
// the pace at which it draws.
func (b *browser) waitFrame() {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
	defer cancel()
	_, err := chromedp.Run(ctx, chromedp.Evaluate[bool](
		`new Promise((ok) => { requestAnimationFrame(() => ok(true)); setTimeout(() => ok(true), 50); })`,
		chromedp.EvalAwaitPromise))
	if err != nil {
		b.t.Fatalf("waiting for a frame: %v", err)
	}
}

// layoutProblemsJS lists what is wrong with the layout as drawn: tiles that
// overlap, text outside its tile, a name over two lines, the header,
// #temperature and the chart over one another, text under WCAG AA's contrast,
// a page wider than the window.
const layoutProblemsJS = `(() => {
  const out = [];
  const box = (e) => e.getBoundingClientRect();
  const overlap = (a, b) => Math.min(a.right, b.right) - Math.max(a.left, b.left) > 0.5 &&
    Math.min(a.bottom, b.bottom) - Math.max(a.top, b.top) > 0.5;
  const inside = (a, b) => a.left >= b.left - 0.5 && a.right <= b.right + 0.5 && a.top >= b.top - 0.5 && a.bottom <= b.bottom + 0.5;
  const tiles = Array.from(document.querySelectorAll('#tiles .tile:not([hidden])'));
  const rects = tiles.map(box);
  for (let i = 0; i < tiles.length; i++) {
    const t = tiles[i], r = rects[i], id = t.dataset.sensor;
    if (r.width < 1 || r.height < 1) out.push(id + ': tile not drawn');
    for (let j = i + 1; j < tiles.length; j++) {
      if (overlap(r, rects[j])) out.push(id + ' overlaps ' + tiles[j].dataset.sensor);
    }
    t.querySelectorAll('.tile-name, .tile-value, .tile-trend, .tile-ago, .tile-stale:not([hidden]), .pin').forEach((e) => {
      if (!inside(box(e), r)) out.push(id + ': ' + e.className + ' "' + e.textContent + '" outside its tile');
    });
    if (t.scrollWidth > t.clientWidth + 1) out.push(id + ': text wider than its tile');
    const name = t.querySelector('.tile-name');
    const lh = parseFloat(getComputedStyle(name).lineHeight) || parseFloat(getComputedStyle(name).fontSize) * 1.4;
    if (box(name).height > lh * 1.5) out.push(id + ': the name spans two lines');
    if (name.title !== id) out.push(id + ': the name has no tooltip');
  }
  const header = box(document.querySelector('header.bar'));
  const temp = box(document.getElementById('temperature'));
  const reading = box(document.querySelector('.reading'));
  const now = box(document.querySelector('.now'));
  const chart = box(document.getElementById('chart'));
  if (overlap(header, temp)) out.push('the header overlaps #temperature');
  if (overlap(header, chart)) out.push('the header overlaps the chart');
  if (overlap(temp, chart)) out.push('#temperature overlaps the chart');
  if (!inside(temp, now)) out.push('#temperature runs out of its card');
  if (!inside(reading, now)) out.push('the reading runs out of its card');
  // WCAG AA: 4.5:1 for text, 3:1 for large text (24 px, or 18.66 px bold).
  const rgb = (c) => (c.match(/[\d.]+/g) || []).map(Number);
  const lum = (c) => {
    const v = c.slice(0, 3).map((x) => { x /= 255; return x <= 0.03928 ? x / 12.92 : Math.pow((x + 0.055) / 1.055, 2.4); });
    return 0.2126 * v[0] + 0.7152 * v[1] + 0.0722 * v[2];
  };
  const background = (e) => {
    for (; e; e = e.parentElement) {
      const c = rgb(getComputedStyle(e).backgroundColor);
      if (c.length === 3 || (c.length === 4 && c[3] === 1)) return c;
    }
    return [255, 255, 255];
  };
  const sample = Array.from(document.querySelectorAll('#tiles .tile:not([hidden])')).slice(0, 3);
  const texts = [document.getElementById('temperature'), document.getElementById('sensor'), document.getElementById('ago'),
    document.querySelector('.sensors-head h2'), document.querySelector('.hint'), ...document.querySelectorAll('.legend-name, .legend-value')];
  sample.forEach((t) => texts.push(...t.querySelectorAll('.tile-name, .tile-value, .tile-trend, .tile-ago, .tile-stale:not([hidden])')));
  texts.forEach((e) => {
    if (!e || !e.textContent.trim()) return;
    const cs = getComputedStyle(e);
    const fg = rgb(cs.color), bg = background(e);
    const a = lum(fg), b = lum(bg);
    const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
    const px = parseFloat(cs.fontSize), bold = Number(cs.fontWeight) >= 700;
    const need = px >= 24 || (bold && px >= 18.66) ? 3 : 4.5;
    if (ratio < need) out.push((e.id || e.className) + ' "' + e.textContent.trim() + '": contrast ' + ratio.toFixed(2) + ', under ' + need);
  });
  if (document.documentElement.scrollWidth > window.innerWidth + 1) out.push('the page is wider than the window (' +
    document.documentElement.scrollWidth + ' > ' + window.innerWidth + ')');
  return out;
})()`

func browseSensors(t *testing.T, n int) {
	start := time.Now()
	args := []string{"--interval", "1s", "--retry", "100ms", "--sim-sensors", strconv.Itoa(n)}
	if n == 12 {
		args = append(args, "--publish-token", ingestToken)
	}
	ts := startServer(t, args...)
	want := make([]string, n)
	for i := range want {
		want[i] = "sim-" + strconv.Itoa(i+1)
	}
	b := startBrowser(t, ts.addr)
	b.run("loading /temperature", 10*time.Second, chromedp.Navigate(ts.url+"/temperature"))
	b.waitState(10*time.Second, "live with a reading", func(st pageState) bool {
		_, ok := st.temperature()
		return st.State == "live" && ok
	})
	// A tile per sensor, in order, each with its reading.
	tiles := b.waitTiles(10*time.Second, fmt.Sprintf("%d tiles with a reading each", n), func(st tilesState) bool {
		return len(st.Sensors) == n && st.Valued == n
	})
	if strings.Join(tiles.Sensors, ",") != strings.Join(want, ",") {
		t.Errorf("the tiles are %q, want %q", tiles.Sensors, want)
	}
	if tiles.Finder != (n > 12) {
		t.Errorf("with %d sensors the filter box shown: %v", n, tiles.Finder)
	}
	if len(tiles.Focused) != 1 || tiles.Focused[0] != "sim-1" || len(tiles.Legend) != 1 || tiles.Legend[0] != "sim-1" {
		t.Errorf("at first the focus is %q and the legend %q; want sim-1 in both", tiles.Focused, tiles.Legend)
	}

	// Every viewport: the layout's checks, and a screenshot.
	for _, v := range sensorViewports {
		name := fmt.Sprintf("sensors-%d-%s-%dx%d-%s", n, v.name, v.width, v.height, v.scheme)
		if v.shot {
			b.screenshot(name, v.width, v.height, v.scale, v.mobile, v.scheme)
		} else {
			opts := []chromedp.EmulateViewportOption{chromedp.EmulateScale(v.scale)}
			if v.mobile {
				opts = append(opts, chromedp.EmulateMobile)
			}
			b.run("setting the viewport "+name, 5*time.Second, chromedp.EmulateViewport(v.width, v.height, opts...))
			b.waitState(5*time.Second, name+": chart drawn for the viewport", func(st pageState) bool { return st.ChartFits })
		}
		b.waitFrame()
		problems, err := eval[[]string](b, layoutProblemsJS)
		if err != nil {
			t.Fatalf("%s: checking the layout: %v", name, err)
		}
		for i, p := range problems {
			if i == 10 {
				t.Errorf("%s: and %d more", name, len(problems)-i)
				break
			}
			t.Errorf("%s: %s", name, p)
		}
		t.Logf("%s: %d tiles, layout checked (%d problems)", name, len(b.tiles().Sensors), len(problems))
	}

	// 8 s of steady publishing at 1366×768: no task of 100 ms or more.
	b.run("setting the viewport to 1366x768", 5*time.Second, chromedp.EmulateViewport(1366, 768))
	b.waitFrame()
	if _, err := eval[bool](b, `(() => {
	  window.__longTasks = [];
	  window.__observedFrom = performance.now();
	  new PerformanceObserver((list) => {
	    list.getEntries().forEach((e) => {
	      window.__longTasks.push(Math.round(e.duration));
	      window.__longAt = (window.__longAt || []).concat([Math.round(e.startTime - window.__observedFrom)]);
	    });
	  }).observe({ type: 'longtask' });
	  return true;
	})()`); err != nil {
		t.Fatalf("observing long tasks: %v", err)
	}
	if _, err := eval[bool](b, `delete document.getElementById('tiles').dataset.frameMs`); err != nil {
		t.Fatal(err)
	}
	published := ts.metric(t, "tempstream_sse_events_published_total", `stream="temperature"`)
	observed := time.Now()
	for {
		if el, err := eval[float64](b, `performance.now() - window.__observedFrom`); err != nil {
			t.Fatalf("reading the page's clock: %v", err)
		} else if el >= 8000 {
			break
		}
		if time.Since(observed) > 20*time.Second {
			t.Fatal("the page's clock did not reach 8 s of observation within 20 s")
		}
		b.waitFrame()
	}
	long, err := eval[[]int](b, `window.__longTasks`)
	if err != nil {
		t.Fatalf("reading the long tasks: %v", err)
	}
	at, _ := eval[[]int](b, `window.__longAt || []`)
	t.Logf("long tasks began at %v ms of the observation", at)
	during := ts.metric(t, "tempstream_sse_events_published_total", `stream="temperature"`) - published
	worst := 0
	for _, d := range long {
		worst = max(worst, d)
	}
	t.Logf("%d sensors, 8 s of steady publishing (%v readings): %d tasks of 50 ms or more %v, the longest %d ms; the longest render meanwhile %s ms",
		n, during, len(long), long, worst, b.tiles().FrameMs)
	if worst >= 100 {
		t.Errorf("%d sensors: a main-thread task of %d ms (of 100 ms or more) while readings came in", n, worst)
	}
	if during < float64(n)*5 {
		t.Errorf("only %v readings were published in 8 s by %d sensors each once a second", during, n)
	}

	// Keyboard: Enter on a tile focuses its sensor; Enter on a pin pins it.
	if n > 1 {
		focusID, pinID := want[n-1], want[n/2]
		b.press("the tile of "+focusID, `#tiles .tile[data-sensor="`+focusID+`"] .tile-main`, kb.Enter)
		st := b.waitState(3*time.Second, focusID+" focused", func(st pageState) bool { return st.Sensor == focusID })
		if _, ok := st.temperature(); !ok {
			t.Errorf("focused on %s, #temperature shows %q", focusID, st.Temperature)
		}
		b.press("the pin of "+pinID, `#tiles .tile[data-sensor="`+pinID+`"] .pin`, kb.Enter)
		tiles = b.waitTiles(3*time.Second, pinID+" pinned and drawn", func(st tilesState) bool {
			return len(st.Pinned) == 1 && st.Pinned[0] == pinID && len(st.Legend) == 2
		})
		if tiles.Legend[0] != focusID || tiles.Legend[1] != pinID {
			t.Errorf("the legend names %q, want %s then %s", tiles.Legend, focusID, pinID)
		}
		st = b.waitState(3*time.Second, "the chart drawing two lines", func(st pageState) bool { return st.Sensors == 2 })
		q, _ := url.ParseQuery(strings.TrimPrefix(st.Search, "?"))
		if q.Get("focus") != focusID || q.Get("pin") != pinID {
			t.Errorf("the URL's query is %q; want focus=%s and pin=%s", st.Search, focusID, pinID)
		}
		for i, v := range tiles.Values {
			if !strings.Contains(v, "°C") {
				t.Errorf("the legend's value %d is %q: not a reading", i, v)
			}
		}
		// The choice survives a reload.
		b.run("reloading the page", 10*time.Second, chromedp.Reload())
		b.waitState(10*time.Second, "after a reload, "+focusID+" focused again", func(st pageState) bool {
			_, ok := st.temperature()
			return st.Sensor == focusID && ok && st.Sensors == 2
		})
		b.waitTiles(10*time.Second, "after a reload, the same focus and pin", func(st tilesState) bool {
			return len(st.Sensors) == n && len(st.Focused) == 1 && st.Focused[0] == focusID &&
				len(st.Pinned) == 1 && st.Pinned[0] == pinID && len(st.Legend) == 2
		})
		// And without the URL's query, from localStorage.
		b.run("loading /temperature without a query", 10*time.Second, chromedp.Navigate(ts.url+"/temperature"))
		b.waitState(10*time.Second, "without the query, "+focusID+" focused again (localStorage)", func(st pageState) bool {
			_, ok := st.temperature()
			return st.Sensor == focusID && ok && st.Sensors == 2
		})
		// Unpin from the keyboard too.
		b.waitTiles(10*time.Second, "the tiles back", func(st tilesState) bool { return len(st.Sensors) == n })
		b.press("the pin of "+pinID+" again", `#tiles .tile[data-sensor="`+pinID+`"] .pin`, kb.Enter)
		b.waitTiles(3*time.Second, pinID+" unpinned", func(st tilesState) bool {
			return len(st.Pinned) == 0 && len(st.Legend) == 1
		})
	} else {
		b.press("the only tile", `#tiles .tile .tile-main`, kb.Enter)
		b.waitTiles(3*time.Second, "sim-1 focused", func(st tilesState) bool {
			return len(st.Focused) == 1 && st.Focused[0] == "sim-1" && len(st.Legend) == 1
		})
	}

	// Past twelve sensors: the filter box, and grouping by prefix.
	switch n {
	case 200:
		b.run("typing in the filter", 5*time.Second, chromedp.SendKeys(chromedp.ID("filter"), "sim-19"))
		tiles = b.waitTiles(3*time.Second, "the filter narrowing the tiles to sim-19 and sim-190 … 199, each with its trend", func(st tilesState) bool {
			return st.Shown == 11 && st.Trends == 11
		})
		b.screenshot(fmt.Sprintf("sensors-%d-filtered-1366x768-light", n), 1366, 768, 1, false, "light")
	case 12:
		for _, id := range []string{"lab.1", "lab.2"} {
			checkAccepted(t, ts.ingestJSON(t, `{"sensor":"`+id+`","celsius":21.5}`), 1)
		}
		b.waitTiles(5*time.Second, "14 tiles and the filter box", func(st tilesState) bool {
			return len(st.Sensors) == 14 && st.Finder
		})
		// lab.1 reported once: stale after three intervals of the others.
		b.waitTiles(10*time.Second, "lab.1 stale", func(st tilesState) bool {
			return slices.Contains(st.Stale, "lab.1") && !slices.Contains(st.Stale, "sim-1")
		})
		b.run("grouping by prefix", 5*time.Second, chromedp.Click(chromedp.ID("group")))
		tiles = b.waitTiles(3*time.Second, "two groups: lab, sim", func(st tilesState) bool {
			return strings.Join(st.Groups, ",") == "lab,sim"
		})
		b.screenshot(fmt.Sprintf("sensors-%d-grouped-1366x768-light", n), 1366, 768, 1, false, "light")
	}
	b.checkRequests("/temperature", "/events?lastEventId=earliest", "/api/v1/sensors")
	t.Logf("%d sensors: took %v", n, time.Since(start).Round(time.Millisecond))
}

// press focuses the element sel and presses key on it.
func (b *browser) press(what, sel, key string) {
	b.t.Helper()
	b.run("focusing "+what, 5*time.Second, chromedp.Focus(chromedp.CSS(sel)), chromedp.KeyEvent(key))
}
