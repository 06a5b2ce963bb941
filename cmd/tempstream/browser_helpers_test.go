package main

// Helpers of the browser test (browser_test.go): a headless chromium driven
// with chromedp that records every request, exception and security message
// of the page; waiting on the page's state with deadlines; screenshots.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/png"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// chromiumPath is Debian's chromium, which `make test` installs when missing.
const chromiumPath = "/usr/bin/chromium"

// browser is one headless chromium with one tab.
type browser struct {
	t    *testing.T
	ctx  context.Context // the tab's chromedp context
	host string          // the only host the page may talk to (host:port)

	mu         sync.Mutex
	requests   []string // every URL the page requested, in order
	foreign    []string // requests to any other host
	exceptions []string // uncaught exceptions in the page
	security   []string // security messages, such as CSP violations
	logs       []string // chromedp's own errors, shown if the test fails
}

// startBrowser starts chromium (headless, a fresh profile) and opens a blank
// tab; it is closed, and every goroutine of chromedp ended, when the test
// ends. The page may load only from host; see checkRequests.
func startBrowser(t *testing.T, host string) *browser {
	t.Helper()
	requireChromium(t)
	b := &browser{t: t, host: host}
	home := t.TempDir() // chromium's config and cache (its crash reporter's too), not $HOME's
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromiumPath),
		chromedp.UserDataDir(t.TempDir()), // a fresh profile: empty localStorage, no cache
		chromedp.Env("XDG_CONFIG_HOME="+home, "XDG_CACHE_HOME="+home),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.WindowSize(1600, 900),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-default-apps", true),
		chromedp.Flag("disable-breakpad", true),
		chromedp.Flag("disable-client-side-phishing-detection", true),
		chromedp.Flag("disable-features", "Translate,OptimizationHints,MediaRouter"),
		chromedp.Flag("metrics-recording-only", true),
		chromedp.Flag("safebrowsing-disable-auto-update", true),
		chromedp.Flag("password-store", "basic"),
		chromedp.Flag("use-mock-keychain", true),
		chromedp.Flag("disable-background-timer-throttling", true),
		chromedp.Flag("disable-renderer-backgrounding", true),
		chromedp.Flag("disable-backgrounding-occluded-windows", true),
		chromedp.Flag("force-color-profile", "srgb"),
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	tabCtx, cancelTab := chromedp.NewContext(allocCtx,
		chromedp.WithListener(b.onEvent),
		chromedp.WithErrorf(b.logf),
	)
	t.Cleanup(func() {
		// Close the browser and wait for its process to end; then every
		// goroutine of chromedp ends (goleak checks it in TestMain).
		if err := chromedp.Cancel(tabCtx); err != nil && !errors.Is(err, context.Canceled) {
			t.Logf("closing chromium: %v", err)
		}
		cancelTab()
		cancelAlloc()
		if t.Failed() {
			b.mu.Lock()
			for _, l := range b.logs {
				t.Logf("chromedp: %s", l)
			}
			b.mu.Unlock()
		}
	})
	b.ctx = tabCtx
	// The first Run starts the browser; it lives as long as tabCtx.
	if err := chromedp.Do(tabCtx); err != nil {
		t.Fatalf("starting %s: %v", chromiumPath, err)
	}
	return b
}

// requireChromium fails the test (never skips it) without chromium.
func requireChromium(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Fatalf("the browser test needs Debian's chromium at %s (%v): install it with "+
			"`apt-get install chromium` (`make test` does so when it is missing)", chromiumPath, err)
	}
}

func (b *browser) logf(format string, args ...any) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.logs = append(b.logs, fmt.Sprintf(format, args...))
}

// onEvent runs in the tab's read loop: it only records.
func (b *browser) onEvent(ev any) {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch ev := ev.(type) {
	case *network.EventRequestWillBeSent:
		raw := ev.Request.URL
		b.requests = append(b.requests, raw)
		if u, err := url.Parse(raw); err != nil || u.Scheme != "http" || u.Host != b.host {
			b.foreign = append(b.foreign, raw)
		}
	case *runtime.EventExceptionThrown:
		d := ev.ExceptionDetails
		msg := d.Text
		if d.Exception != nil && d.Exception.Description != "" {
			msg += " " + d.Exception.Description
		}
		b.exceptions = append(b.exceptions, fmt.Sprintf("%s:%d: %s", d.URL, d.LineNumber+1, msg))
	case *cdplog.EventEntryAdded:
		e := ev.Entry
		if e.Source == cdplog.EntrySourceSecurity || strings.Contains(e.Text, "Content Security Policy") {
			b.security = append(b.security, e.Text)
		}
	}
}

// checkRequests fails the test if the page requested anything from another
// host, threw an exception or broke its Content-Security-Policy; want are
// paths (with query) it must have requested, which proves the recording works.
func (b *browser) checkRequests(want ...string) {
	b.t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	b.t.Logf("the page made %d requests", len(b.requests))
	for _, f := range b.foreign {
		b.t.Errorf("the page requested %s: not the test server %s", f, b.host)
	}
	for _, e := range b.exceptions {
		b.t.Errorf("uncaught exception in the page: %s", e)
	}
	for _, s := range b.security {
		b.t.Errorf("security message from the page: %s", s)
	}
	seen := map[string]bool{}
	for _, r := range b.requests {
		if u, err := url.Parse(r); err == nil {
			seen[u.RequestURI()] = true
		}
	}
	for _, w := range want {
		if !seen[w] {
			b.t.Errorf("the page did not request %s; it requested %q", w, b.requests)
		}
	}
}

// requested returns every URL the page requested whose path is path, in order.
func (b *browser) requested(path string) []*url.URL {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []*url.URL
	for _, r := range b.requests {
		if u, err := url.Parse(r); err == nil && u.Path == path {
			out = append(out, u)
		}
	}
	return out
}

// run runs actions on the tab, failing the test after timeout.
func (b *browser) run(what string, timeout time.Duration, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, timeout)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		b.t.Fatalf("%s: %v", what, err)
	}
}

// call sends one DevTools command to the tab.
func call[P, R any](b *browser, what string, cmd cdp.Command[P, R], params P) R {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
	defer cancel()
	res, err := chromedp.Call(ctx, cmd, params)
	if err != nil {
		b.t.Fatalf("%s: %v", what, err)
	}
	return res
}

// eval evaluates a JavaScript expression in the page.
func eval[T any](b *browser, expr string) (T, error) {
	ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
	defer cancel()
	return chromedp.Run(ctx, chromedp.Evaluate[T](expr))
}

// pageState is what the page shows, read in one evaluation (so its fields
// agree: the page updates them in one task).
type pageState struct {
	Temperature string `json:"temperature"` // #temperature
	Unit        string `json:"unit"`        // °C or °F
	Sensor      string `json:"sensor"`
	Ago         string `json:"ago"`
	State       string `json:"state"`   // the indicator's data-state
	Points      int    `json:"points"`  // readings drawn in the chart
	LastID      string `json:"lastId"`  // the last event ID the page holds
	Sensors     int    `json:"sensors"` // lines in the chart
	Theme       string `json:"theme"`   // the theme the chart was drawn for
	ChartFits   bool   `json:"chartFits"`
	Notice      string `json:"notice"` // the reset notice's text, "" while hidden
	Reason      string `json:"reason"` // its reset reason
	Stored      string `json:"stored"` // the unit remembered in localStorage

	// The range shown (data- attributes of #chart; see temperature.js).
	Range   string `json:"range"`   // live, 1h, 24h, 7d or 30d
	Zoom    string `json:"zoom"`    // "1" when zoomed in
	Band    string `json:"band"`    // "1" when the low–high band is drawn
	Buckets int    `json:"buckets"` // buckets of the history answer drawn
	Live    int    `json:"live"`    // live readings appended after it
	Loads   int    `json:"loads"`   // history answers drawn since the page loaded
	Loading string `json:"loading"` // "1" while a history request is out
	Error   string `json:"error"`   // the last history request's error
	History string `json:"history"` // the answer's "history": memory or jetstream
	From    string `json:"from"`    // the span answered (RFC 3339)
	To      string `json:"to"`
	First   string `json:"first"`  // the oldest point drawn
	Search  string `json:"search"` // location.search: the URL's query
}

const pageStateJS = `(() => {
  const $ = (id) => document.getElementById(id);
  const chart = $('chart'), notice = $('notice'), plot = chart.querySelector('.u-wrap');
  return {
    temperature: $('temperature').textContent,
    unit: $('unit').textContent,
    sensor: $('sensor').textContent,
    ago: $('ago').textContent,
    state: $('status').dataset.state || '',
    points: Number(chart.dataset.points || 0),
    lastId: chart.dataset.lastId || '',
    sensors: Number(chart.dataset.sensors || 0),
    theme: chart.dataset.theme || '',
    chartFits: !!plot && Math.abs(plot.offsetWidth - chart.clientWidth) <= 1 &&
      Math.abs(plot.offsetHeight - chart.clientHeight) <= 1,
    notice: notice.hidden ? '' : $('notice-text').textContent,
    reason: notice.hidden ? '' : (notice.dataset.reason || ''),
    stored: localStorage.getItem('tempstream.unit') || '',
    range: chart.dataset.range || '',
    zoom: chart.dataset.zoom || '',
    band: chart.dataset.band || '',
    buckets: Number(chart.dataset.buckets || 0),
    live: Number(chart.dataset.live || 0),
    loads: Number(chart.dataset.loads || 0),
    loading: chart.dataset.loading || '',
    error: chart.dataset.error || '',
    history: chart.dataset.history || '',
    from: chart.dataset.from || '',
    to: chart.dataset.to || '',
    first: chart.dataset.first || '',
    search: location.search,
  };
})()`

func (b *browser) state() (pageState, error) {
	return eval[pageState](b, pageStateJS)
}

// waitState polls the page's state until cond holds, for at most timeout,
// and returns that state; it fails the test with the last state otherwise.
func (b *browser) waitState(timeout time.Duration, what string, cond func(pageState) bool) pageState {
	b.t.Helper()
	return b.waitStateAfter(timeout, what, func() {}, cond)
}

// waitStateAfter is waitState calling before just before each read of the
// page's state, so that cond can compare the page with what before read
// (such as the server's count of events published).
func (b *browser) waitStateAfter(timeout time.Duration, what string, before func(), cond func(pageState) bool) pageState {
	b.t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	var last pageState
	var lastErr error
	for {
		before()
		st, err := b.state()
		if err == nil && cond(st) {
			return st
		}
		last, lastErr = st, err
		select {
		case <-deadline.C:
			b.t.Fatalf("%s: not within %v; the page shows %+v (read error: %v)", what, timeout, last, lastErr)
		case <-tick.C:
		}
	}
}

// temperature parses the reading shown.
func (st pageState) temperature() (float64, bool) {
	v, err := strconv.ParseFloat(st.Temperature, 64)
	return v, err == nil
}

// screenshotDir is where screenshots go; it stays after the test.
func screenshotDir(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(os.TempDir(), "tempstream-screens")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// screenshot sets the viewport (and the colour scheme), waits until the chart
// is drawn for it, saves a PNG named name in screenshotDir and fails the test
// if the image is all one colour.
func (b *browser) screenshot(name string, width, height int64, scale float64, mobile bool, scheme string) string {
	b.t.Helper()
	opts := []chromedp.EmulateViewportOption{chromedp.EmulateScale(scale)}
	if mobile {
		opts = append(opts, chromedp.EmulateMobile)
	}
	b.run("setting the viewport for "+name, 5*time.Second, chromedp.EmulateViewport(width, height, opts...))
	call(b, "emulating prefers-color-scheme: "+scheme, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
		Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: scheme}},
	})
	b.waitState(5*time.Second, name+": chart drawn for the viewport and the "+scheme+" theme", func(st pageState) bool {
		return st.ChartFits && st.Theme == scheme
	})
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	buf, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		b.t.Fatalf("screenshot %s: %v", name, err)
	}
	path := filepath.Join(screenshotDir(b.t), name+".png")
	if err := os.WriteFile(path, buf, 0o644); err != nil {
		b.t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(buf))
	if err != nil {
		b.t.Fatalf("screenshot %s: %v", path, err)
	}
	colours := countColours(img, 64)
	b.t.Logf("screenshot %s: %dx%d, %s", path, img.Bounds().Dx(), img.Bounds().Dy(), colourSummary(colours))
	if colours < 2 {
		b.t.Errorf("screenshot %s is blank: every pixel has one colour", path)
	}
	return path
}

// countColours counts the distinct colours of img, stopping at limit.
func countColours(img image.Image, limit int) int {
	seen := map[[4]uint32]bool{}
	r := img.Bounds()
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			c0, c1, c2, c3 := img.At(x, y).RGBA()
			seen[[4]uint32{c0, c1, c2, c3}] = true
			if len(seen) >= limit {
				return len(seen)
			}
		}
	}
	return len(seen)
}

func colourSummary(n int) string {
	if n >= 64 {
		return "64 or more colours"
	}
	return strconv.Itoa(n) + " colours"
}
