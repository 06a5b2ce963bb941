package main

import (
	"image"
	"image/color"
	"image/draw"
	"math"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/tempstream/tempstream/pkg/sse"
	"github.com/tempstream/tempstream/pkg/sse/ssetest"
)

// TestBrowserPage: the page in a real browser (Debian's chromium, headless,
// driven with chromedp) against the real program. The page shows a reading
// in range within 2 s of asking for it, follows the next events, says live, and
// its chart holds one point for every event published; °F is remembered
// across a reload, which shows the whole history at once. When the server
// stops, the indicator leaves live; when a new process starts on the same
// port, the page is live again by itself, shows the reset, and its chart
// holds every reading of both processes. The page requests nothing from
// another host, throws nothing and breaks no Content-Security-Policy rule.
// Screenshots (a wall screen, light; a phone, dark) are saved and must not
// be blank.
//
// Not parallel: it runs alone, before the parallel tests, so its deadlines
// measure the page and not a busy machine.
func TestBrowserPage(t *testing.T) {
	requireChromium(t)
	start := time.Now()
	args := []string{"--interval", "100ms", "--retry", "100ms"}
	ts := startServer(t, args...)
	// An independent client that records every event of the first process.
	ref := ts.openStream(t, "/events?lastEventId=earliest").Record(t)
	b := startBrowser(t, ts.addr)

	// A reading in range within 2 s of asking for the page.
	asked := time.Now()
	b.run("loading /temperature", 2*time.Second, chromedp.Navigate(ts.url+"/temperature"))
	loaded := time.Since(asked)
	st := b.waitState(2*time.Second-loaded, "#temperature showing a reading between 20 and 30 °C within 2s", func(st pageState) bool {
		v, ok := st.temperature()
		return ok && v >= 20 && v <= 30 && st.Unit == "°C"
	})
	t.Logf("first reading %s %s (event %s) %v after asking for the page (loaded in %v)", st.Temperature, st.Unit, st.LastID,
		time.Since(asked).Round(time.Millisecond), loaded.Round(time.Millisecond))
	if st.Sensor != "sim-1" || st.Ago == "" {
		t.Errorf("sensor %q, age %q: want sim-1 and how long ago", st.Sensor, st.Ago)
	}

	// It changes with the next events, and shows the newest event's reading.
	// (The first reading may be GET /api/v1/sensors' answer, before the
	// stream's first event.)
	first := b.waitState(2*time.Second, "the stream's first event", func(st pageState) bool {
		_, ok := st.temperature()
		return ok && st.LastID != ""
	})
	st = b.waitState(3*time.Second, "#temperature changing with the next events", func(st pageState) bool {
		return st.Temperature != first.Temperature && seqOf(t, st.LastID) > seqOf(t, first.LastID)
	})
	if want := refReading(t, ref, st.LastID).Data; st.Temperature != want {
		t.Errorf("#temperature = %s with event %s, whose reading is %s", st.Temperature, st.LastID, want)
	}

	// Live, and the chart holds as many points as events were published
	// (the page started from the start of retention, which holds them all):
	// one point per event up to the page's last event ID, and at least as
	// many as the server had published just before the page was read.
	b.waitState(2*time.Second, "the indicator saying live", func(st pageState) bool { return st.State == "live" })
	var published float64
	readPublished := func(ts *testServer) func() {
		return func() { published = ts.metric(t, "tempstream_sse_events_published_total", `stream="temperature"`) }
	}
	st = b.waitStateAfter(3*time.Second, "chart points = events published", readPublished(ts), func(st pageState) bool {
		return st.Points == int(seqOf(t, st.LastID)) && float64(st.Points) >= published && st.Sensors == 1
	})
	t.Logf("chart: %d points; %v events published just before", st.Points, published)

	// °F, remembered in localStorage across a reload; the reload shows the
	// whole history again at once.
	b.run("clicking °F", 5*time.Second, chromedp.Click(chromedp.ID("unit-f")))
	st = b.waitState(2*time.Second, "the reading in °F", func(st pageState) bool {
		return st.Unit == "°F" && st.Stored == "F"
	})
	checkFahrenheit(t, st, refReading(t, ref, st.LastID))
	before := st.Points
	b.run("reloading the page", 10*time.Second, chromedp.Reload())
	st = b.waitState(2*time.Second, "after a reload, °F remembered and the whole history drawn", func(st pageState) bool {
		return st.Unit == "°F" && st.Temperature != "--" && st.Points >= before
	})
	checkFahrenheit(t, st, refReading(t, ref, st.LastID))
	b.run("clicking °C", 5*time.Second, chromedp.Click(chromedp.ID("unit-c")))
	b.waitState(2*time.Second, "the reading in °C again", func(st pageState) bool {
		return st.Unit == "°C" && st.Stored == "C"
	})

	// Stop the server: the indicator leaves live.
	st = b.waitState(2*time.Second, "live before the stop", func(st pageState) bool { return st.State == "live" })
	epoch1 := epochOf(t, st.LastID)
	if err := ts.stop(5 * time.Second); err != nil {
		t.Fatalf("stopping the first server: %v", err)
	}
	stopped := time.Now()
	st = b.waitState(3*time.Second, "the indicator leaving live once the server stopped", func(st pageState) bool {
		return st.State != "live"
	})
	t.Logf("indicator %q %v after the server stopped", st.State, time.Since(stopped).Round(time.Millisecond))

	// Every event the first process sent, per the reference client, whose
	// stream ended with the process.
	ref.End(t, 5*time.Second)
	evs, _, _ := ref.Snapshot()
	sent1 := temperatures(evs)
	checkConsecutive(t, "reference", sent1, 1)
	if len(sent1) == 0 {
		t.Fatal("the reference client got no event")
	}
	last1 := sent1[len(sent1)-1].LastEventID
	st = b.waitState(2*time.Second, "the page holding the last event of the first server", func(st pageState) bool {
		return st.LastID == last1
	})
	if st.Points != len(sent1) {
		t.Fatalf("the chart has %d points; the first server sent %d events", st.Points, len(sent1))
	}

	// A new process on the same port: the page is live again by itself,
	// shows the reset, and misses no reading.
	ts2 := startServer(t, append([]string{"--addr", ts.addr}, args...)...)
	restarted := time.Now()
	st = b.waitState(5*time.Second, "the indicator live again after the restart", func(st pageState) bool {
		return st.State == "live"
	})
	t.Logf("live again %v after the new server started", time.Since(restarted).Round(time.Millisecond))
	st = b.waitStateAfter(5*time.Second, "the chart holding every reading of both servers", readPublished(ts2), func(st pageState) bool {
		epoch, seq, ok := splitID(st.LastID)
		return ok && epoch != epoch1 && st.Points == len(sent1)+int(seq) && float64(seq) >= published
	})
	t.Logf("chart: %d points = %d from the first server + %d from the second", st.Points, len(sent1), st.Points-len(sent1))
	if st.Reason != "unknown" || !strings.Contains(st.Notice, "restarted") {
		t.Errorf("after the restart the notice says %q (reason %q); want the reset shown: server restarted", st.Notice, st.Reason)
	}
	if v, ok := st.temperature(); !ok || v < 20 || v > 30 || st.Unit != "°C" {
		t.Errorf("after the restart #temperature = %q %s", st.Temperature, st.Unit)
	}

	// Screenshots: a wall screen in the light theme, a phone in the dark one.
	b.screenshot("wall-light", 1920, 1080, 1, false, "light")
	b.screenshot("phone-dark", 390, 844, 2, true, "dark")

	b.checkRequests("/temperature", "/static/temperature.css", "/static/temperature.js",
		"/static/vendor/uplot/uPlot.iife.min.js", "/static/vendor/uplot/uPlot.min.css",
		"/events?lastEventId=earliest")
	t.Logf("browser test took %v", time.Since(start).Round(time.Millisecond))
}

// temperatures returns the temperature events of evs.
func temperatures(evs []sse.Received) []sse.Received {
	var out []sse.Received
	for _, ev := range evs {
		if ev.Type == "temperature" {
			out = append(out, ev)
		}
	}
	return out
}

// refReading returns the reading of event id as the reference client got it,
// waiting for it if needed.
func refReading(t *testing.T, ref *ssetest.Recorder, id string) readingData {
	t.Helper()
	evs := ref.Wait(t, 5*time.Second, "reference reaching event "+id, func(evs []sse.Received) bool {
		for _, ev := range evs {
			if ev.LastEventID == id {
				return true
			}
		}
		return false
	})
	for _, ev := range evs {
		if ev.LastEventID == id && ev.Type == "temperature" {
			var r readingData
			decodeStrict(t, ev.Data, &r)
			return r
		}
	}
	t.Fatalf("event %s is not a temperature event", id)
	return readingData{}
}

// checkFahrenheit fails unless st shows r's reading in °F (two decimals).
func checkFahrenheit(t *testing.T, st pageState, r readingData) {
	t.Helper()
	got, err := strconv.ParseFloat(st.Temperature, 64)
	want := r.Celsius*9/5 + 32
	if err != nil || math.Abs(got-want) > 0.006 {
		t.Errorf("#temperature = %q °F for %v °C, want %.2f", st.Temperature, r.Celsius, want)
	}
}

// TestCountColours: the blank-screenshot check tells one colour from two.
func TestCountColours(t *testing.T) {
	img := image.NewRGBA(image.Rect(0, 0, 8, 8))
	draw.Draw(img, img.Bounds(), image.NewUniform(color.RGBA{R: 243, G: 244, B: 246, A: 255}), image.Point{}, draw.Src)
	if n := countColours(img, 64); n != 1 {
		t.Fatalf("a uniform image has %d colours, want 1", n)
	}
	img.Set(3, 5, color.RGBA{A: 255})
	if n := countColours(img, 64); n != 2 {
		t.Fatalf("an image with one dark pixel has %d colours, want 2", n)
	}
}
