package main

import (
	"fmt"
	"math"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestBrowserHistory: the page's range switch in a real browser against the
// real program, with three simulated sensors and readings of the last 20
// hours posted with their old stamps. The page starts live (as
// TestBrowserPage checks it); a click on 1 h, 24 h or 7 d fills the chart
// from GET /api/v1/history (the buckets the page draws are the ones the API
// answers the test for the same request), the range goes into the URL, and
// live readings are appended after the answer without asking again. Long
// ranges draw the low–high band. A reload keeps the range. A drag over the
// chart asks for that span (finer buckets); "Zoom out" goes back; "Live"
// leaves the URL plain. A screenshot of 24 h with the band is saved. The
// page requests nothing from another host, throws nothing and breaks no
// Content-Security-Policy rule.
//
// Not parallel, like TestBrowserPage.
func TestBrowserHistory(t *testing.T) {
	requireChromium(t)
	start := time.Now()
	ts := startServer(t, "--interval", "100ms", "--retry", "100ms", "--sim-sensors", "3", "--publish-token", ingestToken)
	sensors := []string{"sim-1", "sim-2", "sim-3"}
	const span, every = 20 * time.Hour, 30 * time.Second
	posted := postPast(t, ts, sensors, span, every)
	t.Logf("posted %d readings of the last %v (one a sensor every %v)", posted, span, every)

	b := startBrowser(t, ts.addr)
	b.run("loading /temperature", 10*time.Second, chromedp.Navigate(ts.url+"/temperature"))
	b.waitState(5*time.Second, "live with sim-1 drawn", func(st pageState) bool {
		return st.State == "live" && st.Range == "live" && st.Sensors == 1 && st.Points > 0 &&
			st.Band == "0" && st.Buckets == 0 && st.Search == ""
	})
	// The chart draws the focused sensor (sim-1) and the pinned ones.
	for _, id := range sensors[1:] {
		b.run("pinning "+id, 5*time.Second, chromedp.Click(chromedp.CSS(`#tiles .tile[data-sensor="`+id+`"] .pin`)))
	}
	st := b.waitState(5*time.Second, "live with three sensors drawn", func(st pageState) bool {
		return st.State == "live" && st.Sensors == 3 && st.Points > 0 && st.Search == "?pin=sim-2,sim-3"
	})

	// 1 h: the history API's answer, then the live readings appended to it.
	st = b.chooseRange(t, "1h", st.Loads)
	checkSpan(t, st, time.Hour)
	b.checkAnswer(t, ts, st)
	if oldest := pageTime(t, st.First); oldest.Sub(pageTime(t, st.From)) > every+time.Second {
		t.Errorf("1 h: the oldest point drawn is %s, more than %v after the range's start %s", st.First, every, st.From)
	}
	filled := st
	st = b.waitState(3*time.Second, "1 h: live readings appended without asking the history API again", func(st pageState) bool {
		return st.Range == "1h" && st.Loads == filled.Loads && st.Live > filled.Live && st.Points > filled.Points
	})
	t.Logf("1 h: %d buckets from the history API (%s), then %d, now %d live readings appended", st.Buckets, st.History, filled.Live, st.Live)

	// 24 h: buckets of several readings, drawn with the band, reaching back
	// to the oldest reading posted.
	st = b.chooseRange(t, "24h", st.Loads)
	checkSpan(t, st, 24*time.Hour)
	b.checkAnswer(t, ts, st)
	if st.Band != "1" {
		t.Errorf("24 h: data-band = %q, want the band (1)", st.Band)
	}
	if oldest := pageTime(t, st.First); time.Since(oldest) < span-time.Hour {
		t.Errorf("24 h: the oldest point drawn is %s; readings of the last %v were posted", st.First, span)
	}
	t.Logf("24 h: %d buckets, band %s, oldest point %s", st.Buckets, st.Band, st.First)

	// 7 d, kept in the URL across a reload.
	st = b.chooseRange(t, "7d", st.Loads)
	checkSpan(t, st, 7*24*time.Hour)
	if st.Band != "1" {
		t.Errorf("7 d: data-band = %q, want the band (1)", st.Band)
	}
	b.run("reloading the page", 10*time.Second, chromedp.Reload())
	st = b.waitState(5*time.Second, "after a reload, 7 d again from the history API", func(st pageState) bool {
		return st.Range == "7d" && st.Search == "?pin=sim-2,sim-3&range=7d" && st.Loads >= 1 && st.Loading == "0" && st.Buckets > 0 && st.Band == "1"
	})
	pressed, err := eval[string](b, `document.querySelector('.ranges button[aria-pressed="true"]').id`)
	if err != nil || pressed != "range-7d" {
		t.Errorf("after the reload the switch shows %q pressed (%v), want range-7d", pressed, err)
	}

	// A screenshot of 24 h with the band.
	st = b.chooseRange(t, "24h", st.Loads)
	wholeWidth := b.checkAnswer(t, ts, st)
	b.screenshot("history-24h-band", 1920, 1080, 1, false, "light")
	st = b.waitState(2*time.Second, "24 h with the band after the screenshot", func(st pageState) bool {
		return st.Range == "24h" && st.Band == "1"
	})

	// A drag over the middle fifth of the chart zooms in: the history API
	// is asked for that span, with finer buckets.
	whole := st
	wholeSpan := pageTime(t, whole.To).Sub(pageTime(t, whole.From))
	wholeBucket := bucketWidth(t, b.lastHistoryRequest(t))
	b.drag(t, 0.4, 0.6)
	st = b.waitState(5*time.Second, "zoomed in after a drag", func(st pageState) bool {
		return st.Zoom == "1" && st.Range == "24h" && st.Loads > whole.Loads && st.Loading == "0" && st.Error == ""
	})
	zoomed := pageTime(t, st.To).Sub(pageTime(t, st.From))
	if zoomed < wholeSpan/8 || zoomed > wholeSpan/3 {
		t.Errorf("a drag over a fifth of %v zoomed to %v (%s – %s)", wholeSpan, zoomed, st.From, st.To)
	}
	zoomWidth := b.checkAnswer(t, ts, st)
	zoomBucket := bucketWidth(t, b.lastHistoryRequest(t))
	if zoomBucket > wholeBucket/3 {
		t.Errorf("zoomed in, the page asks for buckets of %v; the whole range had %v: not finer", zoomBucket, wholeBucket)
	}
	if zoomWidth >= wholeWidth {
		t.Errorf("zoomed in, the history API answers buckets of %v; the whole range had %v: not finer", zoomWidth, wholeWidth)
	}
	hidden, err := eval[bool](b, `document.getElementById('zoom-reset').hidden`)
	if err != nil || hidden {
		t.Errorf("zoomed in, but Zoom out is hidden (%v)", err)
	}
	t.Logf("zoom: %v of %v; buckets asked %v instead of %v, answered %v instead of %v (0: a reading each); %d buckets, band %s",
		zoomed.Round(time.Second), wholeSpan, zoomBucket.Round(time.Second), wholeBucket.Round(time.Second),
		zoomWidth, wholeWidth, st.Buckets, st.Band)

	b.run("clicking Zoom out", 5*time.Second, chromedp.Click(chromedp.ID("zoom-reset")))
	st = b.waitState(5*time.Second, "24 h again after Zoom out", func(st pageState) bool {
		return st.Zoom == "0" && st.Range == "24h" && st.Loads > whole.Loads+1 && st.Loading == "0" && st.Band == "1"
	})
	checkSpan(t, st, 24*time.Hour)

	// Live again: the URL is plain, the chart holds the stream's readings.
	b.run("clicking Live", 5*time.Second, chromedp.Click(chromedp.ID("range-live")))
	b.waitState(2*time.Second, "live again", func(st pageState) bool {
		return st.Range == "live" && st.Search == "?pin=sim-2,sim-3" && st.Band == "0" && st.Buckets == 0 && st.Sensors == 3 && st.Points > 0
	})

	b.checkRequests("/temperature", "/static/temperature.css", "/static/temperature.js",
		"/static/vendor/uplot/uPlot.iife.min.js", "/static/vendor/uplot/uPlot.min.css",
		"/events?lastEventId=earliest", "/api/v1/sensors")
	t.Logf("the page asked the history API %d times; browser test took %v", len(b.requested("/api/v1/history")),
		time.Since(start).Round(time.Millisecond))
}

// postPast posts readings of sensors over the last span, one a sensor every
// every (a daily wave with some noise, within 20–30 °C), oldest first, in
// batches of 1,000, and returns how many.
func postPast(t *testing.T, ts *testServer, sensors []string, span, every time.Duration) int {
	t.Helper()
	now := time.Now()
	noise := rand.New(rand.NewPCG(1, 2))
	var batch []ingestReading
	n := 0
	flush := func() {
		if len(batch) == 0 {
			return
		}
		if a := ts.ingestJSON(t, batchJSON(batch...)); a.status != http.StatusAccepted {
			t.Fatalf("posting %d readings: %s", len(batch), a)
		}
		n += len(batch)
		batch = batch[:0]
	}
	for at := now.Add(-span); at.Before(now.Add(-every)); at = at.Add(every) {
		for i, s := range sensors {
			x := float64(at.Unix()) / (6 * 3600) * 2 * math.Pi
			c := 24.5 + float64(i) + 2.5*math.Sin(x+float64(i)) + (noise.Float64()-0.5)*1.5
			batch = append(batch, ingestReading{Sensor: s, Celsius: c, At: at.UTC().Format(time.RFC3339Nano)})
			if len(batch) == 1000 {
				flush()
			}
		}
	}
	flush()
	return n
}

// chooseRange clicks the range switch's button for r and waits for the
// chart to be filled again from the history API (a new answer drawn, after
// loads), with r in the URL.
func (b *browser) chooseRange(t *testing.T, r string, loads int) pageState {
	t.Helper()
	b.run("clicking "+r, 5*time.Second, chromedp.Click(chromedp.ID("range-"+r)))
	st := b.waitState(5*time.Second, r+": the chart filled from the history API", func(st pageState) bool {
		return st.Range == r && st.Search == "?pin=sim-2,sim-3&range="+r && st.Zoom == "0" && st.Loading == "0" &&
			(st.Loads > loads && st.Buckets > 0 || st.Error != "")
	})
	if st.Error != "" {
		t.Fatalf("%s: the page says the history API failed: %s", r, st.Error)
	}
	return st
}

// checkSpan fails unless the answer drawn spans d and ends about now.
func checkSpan(t *testing.T, st pageState, d time.Duration) {
	t.Helper()
	from, to := pageTime(t, st.From), pageTime(t, st.To)
	if got := to.Sub(from); got < d-time.Second || got > d+time.Second {
		t.Errorf("%s: the history drawn spans %v (%s – %s), want %v", st.Range, got, st.From, st.To, d)
	}
	if ago := time.Since(to); ago < -time.Minute || ago > time.Minute {
		t.Errorf("%s: the history drawn ends at %s, %v ago", st.Range, st.To, ago)
	}
}

// lastHistoryRequest is the page's last request to the history API.
func (b *browser) lastHistoryRequest(t *testing.T) *url.URL {
	t.Helper()
	reqs := b.requested("/api/v1/history")
	if len(reqs) == 0 {
		t.Fatal("the page did not ask GET /api/v1/history")
	}
	return reqs[len(reqs)-1]
}

// bucketWidth is the width of the buckets a history request asks for.
func bucketWidth(t *testing.T, req *url.URL) time.Duration {
	t.Helper()
	q := req.Query()
	var points int
	if _, err := fmt.Sscan(q.Get("points"), &points); err != nil || points < 1 || points > 2000 {
		t.Fatalf("%s: points %q (%v), want 1 to 2000", req.RequestURI(), q.Get("points"), err)
	}
	return pageTime(t, q.Get("to")).Sub(pageTime(t, q.Get("from"))) / time.Duration(points)
}

// checkAnswer sends the page's last history request again and fails unless
// it names every sensor, spans what the page says, and holds as many
// buckets as the page draws: the chart is filled from the history API. It
// returns the answer's widest bucket width.
func (b *browser) checkAnswer(t *testing.T, ts *testServer, st pageState) time.Duration {
	t.Helper()
	req := b.lastHistoryRequest(t)
	q := req.Query()
	if got := strings.Split(q.Get("sensor"), ","); len(got) != st.Sensors {
		t.Errorf("the page asked history for %q; it draws %d sensors", got, st.Sensors)
	}
	ans := ts.history(t, req.RawQuery)
	buckets, several, width := 0, false, int64(0)
	for _, s := range ans.Series {
		buckets += len(s.Points)
		width = max(width, s.WidthSeconds)
		for _, p := range s.Points {
			several = several || p.Count > 1
		}
	}
	if !pageTime(t, ans.From).Equal(pageTime(t, st.From)) || !pageTime(t, ans.To).Equal(pageTime(t, st.To)) {
		t.Errorf("the history API answers %s – %s for %s; the page shows %s – %s", ans.From, ans.To, req.RequestURI(), st.From, st.To)
	}
	if buckets != st.Buckets || ans.History != st.History {
		t.Errorf("the history API answers %d buckets (%s) for %s; the page draws %d (%s)",
			buckets, ans.History, req.RequestURI(), st.Buckets, st.History)
	}
	if want := map[bool]string{true: "1", false: "0"}[several]; st.Band != want {
		t.Errorf("%s: data-band = %q, but buckets of several readings: %v", st.Range, st.Band, several)
	}
	return time.Duration(width) * time.Second
}

// drag drags the mouse across the chart's plot area from fraction x0 to x1
// of its width, at half its height.
func (b *browser) drag(t *testing.T, x0, x1 float64) {
	t.Helper()
	rect, err := eval[struct{ Left, Top, Width, Height float64 }](b,
		`(() => { const r = document.querySelector('#chart .u-over').getBoundingClientRect();
		  return {left: r.left, top: r.top, width: r.width, height: r.height}; })()`)
	if err != nil || rect.Width < 10 {
		t.Fatalf("the chart's plot area: %+v (%v)", rect, err)
	}
	y := rect.Top + rect.Height/2
	at := func(f float64) float64 { return rect.Left + rect.Width*f }
	actions := []chromedp.Action[chromedp.Void]{chromedp.MouseEvent("mousePressed", at(x0), y, chromedp.ButtonLeft)}
	for i := 1; i <= 5; i++ {
		actions = append(actions, chromedp.MouseEvent("mouseMoved", at(x0+(x1-x0)*float64(i)/5), y, chromedp.ButtonLeft))
	}
	actions = append(actions, chromedp.MouseEvent("mouseReleased", at(x1), y, chromedp.ButtonLeft))
	b.run(fmt.Sprintf("dragging across the chart from %.0f%% to %.0f%%", x0*100, x1*100), 5*time.Second, actions...)
}

// pageTime parses an RFC 3339 time of the page or the API.
func pageTime(t *testing.T, s string) time.Time {
	t.Helper()
	at, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatalf("time %q: %v", s, err)
	}
	return at
}
