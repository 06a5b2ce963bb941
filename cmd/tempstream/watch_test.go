package main

// Tests of tempstream watch against real servers (run, or the built binary),
// including one that restarts under it, and against a scripted server for
// the answers tempstream never gives.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tempstream/tempstream/internal/testharness"
)

// lineBuffer is a goroutine-safe writer that keeps complete lines and wakes
// waiters on each new one.
type lineBuffer struct {
	mu      sync.Mutex
	partial []byte
	lines   []string
	changed chan struct{} // closed and replaced on every new line
}

func newLineBuffer() *lineBuffer { return &lineBuffer{changed: make(chan struct{})} }

func (b *lineBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.partial = append(b.partial, p...)
	added := false
	for {
		i := bytes.IndexByte(b.partial, '\n')
		if i < 0 {
			break
		}
		b.lines = append(b.lines, string(b.partial[:i]))
		b.partial = b.partial[i+1:]
		added = true
	}
	if added {
		close(b.changed)
		b.changed = make(chan struct{})
	}
	return len(p), nil
}

func (b *lineBuffer) snapshot() ([]string, <-chan struct{}) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.lines[:len(b.lines):len(b.lines)], b.changed
}

func (b *lineBuffer) String() string {
	lines, _ := b.snapshot()
	return strings.Join(lines, "\n")
}

// waitLines waits until cond holds for the lines so far and returns them. It
// fails the test when the deadline passes, or when ended is closed first
// (the writer is gone).
func (b *lineBuffer) waitLines(t testing.TB, timeout time.Duration, what string, ended <-chan struct{}, cond func([]string) bool) []string {
	t.Helper()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for {
		lines, changed := b.snapshot()
		if cond(lines) {
			return lines
		}
		select {
		case <-changed:
		case <-ended:
			if lines, _ := b.snapshot(); cond(lines) {
				return lines
			}
			t.Fatalf("%s: the watch ended first; its output:\n%s", what, b)
		case <-timer.C:
			t.Fatalf("%s: not within %v; output so far:\n%s", what, timeout, b)
		}
	}
}

// watchRun is one `tempstream watch` running through run on its own goroutine.
type watchRun struct {
	out, errOut *lineBuffer
	cancel      context.CancelFunc
	ended       chan struct{} // closed when run returned
	err         error         // run's result, once ended is closed
}

// startWatch runs `tempstream watch args...` with env as its environment;
// it is stopped (and must return nil) when the test ends.
func startWatch(t *testing.T, env map[string]string, args ...string) *watchRun {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	w := &watchRun{out: newLineBuffer(), errOut: newLineBuffer(), cancel: cancel, ended: make(chan struct{})}
	all := append([]string{"tempstream", "watch"}, args...)
	go func() {
		defer close(w.ended)
		w.err = run(ctx, all, func(k string) string { return env[k] }, w.out, w.errOut)
	}()
	t.Cleanup(func() {
		select {
		case <-w.ended: // it returned by itself: the test has its result
		default:
			if err := w.stop(t); err != nil {
				t.Errorf("watch at cleanup: %v", err)
			}
		}
		if t.Failed() {
			t.Logf("watch stderr:\n%s", w.errOut)
		}
	})
	return w
}

// stop cancels the watch's context and returns run's result; it must come
// within 5s.
func (w *watchRun) stop(t testing.TB) error {
	t.Helper()
	w.cancel()
	return w.wait(t, 5*time.Second)
}

// wait waits for run to return by itself and returns its result.
func (w *watchRun) wait(t testing.TB, timeout time.Duration) error {
	t.Helper()
	select {
	case <-w.ended:
		return w.err
	case <-time.After(timeout):
		t.Fatalf("watch did not return within %v", timeout)
		return nil
	}
}

func (w *watchRun) waitOut(t testing.TB, timeout time.Duration, what string, cond func([]string) bool) []string {
	t.Helper()
	return w.out.waitLines(t, timeout, what, w.ended, cond)
}

func (w *watchRun) waitErr(t testing.TB, timeout time.Duration, what string, cond func([]string) bool) []string {
	t.Helper()
	return w.errOut.waitLines(t, timeout, what, w.ended, cond)
}

func atLeast(n int) func([]string) bool { return func(l []string) bool { return len(l) >= n } }

func countContaining(lines []string, s string) int {
	n := 0
	for _, l := range lines {
		if strings.Contains(l, s) {
			n++
		}
	}
	return n
}

// readingLine is a reading as `tempstream watch` prints it.
var readingLine = regexp.MustCompile(`^([0-2]\d:[0-5]\d:[0-5]\d)  ([a-z0-9][a-z0-9._-]*) +(-?\d+\.\d\d) °C$`)

// watchJSON is a line of `tempstream watch --json`.
type watchJSON struct {
	ID      string  `json:"id"`
	Data    string  `json:"data"`
	Celsius float64 `json:"celsius"`
	Sensor  string  `json:"sensor"`
	At      string  `json:"at"`
}

func parseWatchJSON(t testing.TB, line string) watchJSON {
	t.Helper()
	var r watchJSON
	if !strings.HasPrefix(line, `{"id":"`) {
		t.Fatalf("watch --json line %q does not start with its id", line)
	}
	if err := json.Unmarshal([]byte(line), &r); err != nil {
		t.Fatalf("watch --json line %q: %v", line, err)
	}
	for _, k := range []string{`"id":`, `"data":`, `"celsius":`, `"sensor":`, `"at":`} {
		if !strings.Contains(line, k) {
			t.Fatalf("watch --json line %q has no %s", line, k)
		}
	}
	if _, _, ok := splitID(r.ID); !ok {
		t.Fatalf("watch --json line %q: id is not <epoch>-<seq>", line)
	}
	if _, err := time.Parse(time.RFC3339Nano, r.At); err != nil {
		t.Fatalf("watch --json line %q: at: %v", line, err)
	}
	if want := fmt.Sprintf("%.2f", r.Celsius); r.Data != want {
		t.Fatalf("watch --json line %q: data %q, celsius says %q", line, r.Data, want)
	}
	return r
}

// TestWatchPrintsReadings: one line per reading, time, sensor and °C.
func TestWatchPrintsReadings(t *testing.T) {
	t.Parallel()
	ts := startServer(t, "--interval", "20ms")
	start := time.Now()
	w := startWatch(t, nil, ts.url+"/events")
	lines := w.waitOut(t, 10*time.Second, "5 readings", atLeast(5))
	t.Logf("5 readings after %v", time.Since(start).Round(time.Millisecond))
	for _, l := range lines {
		m := readingLine.FindStringSubmatch(l)
		if m == nil {
			t.Fatalf("line %q is not `HH:MM:SS  sensor  NN.NN °C`", l)
		}
		clock, err := time.ParseInLocation("15:04:05", m[1], time.Local)
		if err != nil {
			t.Fatalf("line %q: %v", l, err)
		}
		// A reading is printed within moments of being taken: its clock is now's.
		now := time.Now()
		d := (now.Hour()*3600 + now.Minute()*60 + now.Second()) - (clock.Hour()*3600 + clock.Minute()*60 + clock.Second())
		if d < 0 {
			d += 24 * 3600
		}
		if d > 60 {
			t.Fatalf("line %q: time %s is not the local time of the reading (now %s)", l, m[1], now.Format("15:04:05"))
		}
	}
	if errLines, _ := w.errOut.snapshot(); countContaining(errLines, "connected to "+ts.url+"/events") != 1 {
		t.Fatalf("stderr has no connected line:\n%s", w.errOut)
	}
	stopped := time.Now()
	if err := w.stop(t); err != nil {
		t.Fatalf("watch returned %v after cancel, want nil", err)
	}
	if d := time.Since(stopped); d > time.Second {
		t.Fatalf("watch took %v to return after cancel", d)
	}
}

// TestWatchJSON: --json prints the event's data plus its id, one object a
// line, in order; --sensor keeps the sensor it names.
func TestWatchJSON(t *testing.T) {
	t.Parallel()
	ts := startServer(t, "--interval", "20ms")
	w := startWatch(t, nil, "--json", ts.url+"/events")
	lines := w.waitOut(t, 10*time.Second, "5 JSON readings", atLeast(5))
	var evs []watchJSON
	for _, l := range lines {
		evs = append(evs, parseWatchJSON(t, l))
	}
	epoch := epochOf(t, evs[0].ID)
	first := seqOf(t, evs[0].ID)
	for i, ev := range evs {
		if want := fmt.Sprintf("%s-%d", epoch, first+uint64(i)); ev.ID != want {
			t.Fatalf("line %d has id %s, want %s (a gap or a duplicate)", i, ev.ID, want)
		}
	}
	if err := w.stop(t); err != nil {
		t.Fatalf("watch returned %v after cancel, want nil", err)
	}

	// The URL may come first, flags after it.
	sensor := evs[0].Sensor
	w = startWatch(t, nil, ts.url+"/events", "--json", "--sensor", sensor)
	for _, l := range w.waitOut(t, 10*time.Second, "3 readings of "+sensor, atLeast(3)) {
		if r := parseWatchJSON(t, l); r.Sensor != sensor {
			t.Fatalf("--sensor %s printed %q", sensor, l)
		}
	}
	if err := w.stop(t); err != nil {
		t.Fatalf("watch returned %v after cancel, want nil", err)
	}
}

// TestWatchServerRestart: the server stops under the watch (its streams end
// with a clean EOF, on which the r3labs client alone would return) and
// another one starts on the same port. The watch reconnects by itself,
// resumes after the last reading it printed, gets a reset (the new process
// has a new epoch) and prints its readings: none twice, none missing.
func TestWatchServerRestart(t *testing.T) {
	t.Parallel()
	a := startServer(t, "--interval", "20ms")
	w := startWatch(t, nil, "--json", a.url+"/events")
	lines := w.waitOut(t, 10*time.Second, "3 readings from the first server", atLeast(3))
	epochA := epochOf(t, parseWatchJSON(t, lines[0]).ID)

	stopped := time.Now()
	if err := a.stop(5 * time.Second); err != nil {
		t.Fatalf("first server: %v", err)
	}
	b := startServer(t, "--interval", "20ms", "--addr", a.addr)
	if b.addr != a.addr {
		t.Fatalf("second server on %s, want %s", b.addr, a.addr)
	}
	fromB := func(lines []string) int {
		n := 0
		for _, l := range lines {
			if epochOf(t, parseWatchJSON(t, l).ID) != epochA {
				n++
			}
		}
		return n
	}
	lines = w.waitOut(t, 15*time.Second, "3 readings from the second server", func(l []string) bool { return fromB(l) >= 3 })
	t.Logf("readings from the second server %v after the first stopped", time.Since(stopped).Round(time.Millisecond))
	errLines := w.waitErr(t, 5*time.Second, "a reset notice", func(l []string) bool {
		return countContaining(l, "notice: readings may have been missed (unknown)") > 0
	})
	if err := w.stop(t); err != nil {
		t.Fatalf("watch returned %v after cancel, want nil", err)
	}

	seen := map[string]bool{}
	var idsA, idsB []string
	for _, l := range lines {
		id := parseWatchJSON(t, l).ID
		if seen[id] {
			t.Fatalf("reading %s printed twice:\n%s", id, strings.Join(lines, "\n"))
		}
		seen[id] = true
		if epochOf(t, id) == epochA {
			if len(idsB) > 0 {
				t.Fatalf("reading %s of the first server printed after the second server's", id)
			}
			idsA = append(idsA, id)
		} else {
			idsB = append(idsB, id)
		}
	}
	// The first server's readings follow each other; the second's start at its
	// first (all retained, after the reset) and follow each other too.
	for i, id := range idsA {
		if want := fmt.Sprintf("%s-%d", epochA, seqOf(t, idsA[0])+uint64(i)); id != want {
			t.Fatalf("reading %d of the first server is %s, want %s: %v", i, id, want, idsA)
		}
	}
	epochB := epochOf(t, idsB[0])
	for i, id := range idsB {
		if want := fmt.Sprintf("%s-%d", epochB, i+1); id != want {
			t.Fatalf("reading %d of the second server is %s, want %s: %v", i, id, want, idsB)
		}
	}
	last := idsA[len(idsA)-1]
	for _, want := range []string{
		"the stream ended; reconnecting in",              // the clean EOF
		"reconnected, resuming after " + last,            // Last-Event-ID: the last reading printed
		"the server does not know " + last,               // the reset's lastEventId
		"continuing from " + fmt.Sprintf("%s-1", epochB), // and its oldestId
	} {
		if countContaining(errLines, want) == 0 {
			t.Errorf("stderr has no line with %q:\n%s", want, strings.Join(errLines, "\n"))
		}
	}
}

// TestWatchUnknownStream: a 404 is final: the watch returns an error (exit
// 1, not a usage error) at once.
func TestWatchUnknownStream(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	start := time.Now()
	w := startWatch(t, nil, ts.url+"/events?stream=nope")
	err := w.wait(t, 5*time.Second)
	if err == nil {
		t.Fatal("watch of an unknown stream returned nil")
	}
	if errors.As(err, new(usageError)) {
		t.Fatalf("watch of an unknown stream returned a usage error: %v", err)
	}
	for _, want := range []string{"404", `unknown stream "nope"`} {
		if !strings.Contains(err.Error(), want) {
			t.Fatalf("error %q does not say %s", err, want)
		}
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("watch took %v to give up on a 404", d)
	}
}

// TestWatchKeepsTrying: with nothing listening the watch keeps retrying (it
// never gives up on its own) until its context ends; then it returns nil.
func TestWatchKeepsTrying(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	w := startWatch(t, nil, "http://"+addr+"/events")
	w.waitErr(t, 10*time.Second, "3 attempts", func(l []string) bool {
		return countContaining(l, "reconnecting in") >= 3
	})
	select {
	case <-w.ended:
		t.Fatalf("watch returned %v with nothing listening", w.err)
	default:
	}
	stopped := time.Now()
	if err := w.stop(t); err != nil {
		t.Fatalf("watch returned %v after cancel, want nil", err)
	}
	if d := time.Since(stopped); d > time.Second {
		t.Fatalf("watch took %v to return after cancel (while waiting to retry)", d)
	}
}

// TestWatchScripted runs the watch against a scripted server, for answers
// tempstream does not give: a 503 with Retry-After, a 200 that is not an event stream (retried),
// retry:, events of other types and bad data (skipped), control characters
// (made harmless), an expired resume point, and 204 (stop, exit 0).
func TestWatchScripted(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var lastIDs []string // Last-Event-ID of each request
	srv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		mu.Lock()
		lastIDs = append(lastIDs, r.Header.Get("Last-Event-ID"))
		n := len(lastIDs)
		mu.Unlock()
		sse := func(body string) {
			rw.Header().Set("Content-Type", "text/event-stream")
			_, _ = fmt.Fprint(rw, body) // then a clean end of stream
		}
		switch n {
		case 1:
			rw.Header().Set("Retry-After", "1")
			http.Error(rw, `{"error":"too many subscribers","status":503}`, http.StatusServiceUnavailable)
		case 2:
			rw.Header().Set("Content-Type", "text/html")
			_, _ = fmt.Fprint(rw, "<p>a captive portal</p>")
		case 3:
			sse("retry: 30\n\n" +
				"id: e-1\nevent: temperature\ndata: {\"data\":\"21.50\",\"celsius\":21.5,\"sensor\":\"lab-1\",\"at\":\"2026-01-02T03:04:05Z\"}\n\n" +
				"id: e-2\ndata: a message without a type\n\n" +
				"id: e-3\nevent: other\ndata: {}\n\n" +
				"id: e-4\nevent: temperature\ndata: not json\n\n" +
				"id: e-5\nevent: temperature\ndata: {\"data\":\"-3.25\",\"celsius\":-3.25,\"sensor\":\"x\\u001b[31my\",\"at\":\"2026-01-02T03:04:06Z\"}\n\n")
		case 4:
			sse("event: reset\ndata: {\"reason\":\"expired\",\"lastEventId\":\"e-5\",\"oldestId\":\"e-90\"}\n\n" +
				"id: e-90\nevent: temperature\ndata: {\"data\":\"22.00\",\"celsius\":22,\"sensor\":\"lab-1\",\"at\":\"2026-01-02T03:05:00Z\"}\n\n")
		default:
			rw.WriteHeader(http.StatusNoContent)
		}
	}))
	t.Cleanup(srv.Close)

	w := startWatch(t, nil, srv.URL+"/events")
	if err := w.wait(t, 10*time.Second); err != nil {
		t.Fatalf("watch returned %v on 204, want nil", err)
	}
	local := func(s string) string {
		at, _ := time.Parse(time.RFC3339, s)
		return at.Local().Format("15:04:05")
	}
	want := []string{
		local("2026-01-02T03:04:05Z") + "  lab-1   21.50 °C",
		local("2026-01-02T03:04:06Z") + "  x\uFFFD[31my  -3.25 °C",
		local("2026-01-02T03:05:00Z") + "  lab-1    22.00 °C", // the column is as wide as the widest sensor yet
	}
	got, _ := w.out.snapshot()
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("stdout:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	errLines, _ := w.errOut.snapshot()
	for _, s := range []string{
		`answered 503 Service Unavailable: too many subscribers; reconnecting in 1s…`, // Retry-After
		`answered 200 with Content-Type "text/html", not an event stream; reconnecting in`,
		"skipping event e-4",
		"notice: readings were missed (expired): the server no longer keeps those after e-5; continuing from e-90",
		"answered 204 No Content (the server asks clients to stop)",
	} {
		if countContaining(errLines, s) != 1 {
			t.Errorf("stderr has not one line with %q:\n%s", s, strings.Join(errLines, "\n"))
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if want := []string{"", "", "", "e-5", "e-90"}; strings.Join(lastIDs, ",") != strings.Join(want, ",") {
		t.Errorf("Last-Event-ID of each request: %q, want %q", lastIDs, want)
	}
}

// TestWatchStatuses: a 4xx answer is final (the watch returns an error),
// except 408 and 429, which are retried like 5xx.
func TestWatchStatuses(t *testing.T) {
	t.Parallel()
	for _, status := range []int{400, 401, 403, 410, 408, 429, 500, 502} {
		t.Run(strconv.Itoa(status), func(t *testing.T) {
			t.Parallel()
			srv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
				http.Error(rw, "no", status)
			}))
			t.Cleanup(srv.Close)
			w := startWatch(t, nil, srv.URL+"/events")
			if status >= 500 || status == 408 || status == 429 {
				w.waitErr(t, 10*time.Second, "3 attempts", func(l []string) bool {
					return countContaining(l, fmt.Sprintf("answered %d %s: no; reconnecting in", status, http.StatusText(status))) >= 3
				})
				if err := w.stop(t); err != nil {
					t.Fatalf("watch returned %v after cancel, want nil", err)
				}
				return
			}
			err := w.wait(t, 5*time.Second)
			if err == nil || errors.As(err, new(usageError)) || !strings.Contains(err.Error(), fmt.Sprintf("answered %d %s: no", status, http.StatusText(status))) {
				t.Fatalf("watch answered %d returned %v, want that error", status, err)
			}
		})
	}
}

// TestWatchUsage: bad command lines are usage errors (exit 2), --help is not.
func TestWatchUsage(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args []string
		env  map[string]string
	}{
		{args: []string{"--nope"}},
		{args: []string{"--json=maybe"}},
		{args: []string{"http://127.0.0.1:1/events", "http://127.0.0.1:2/events"}},
		{args: []string{"ftp://127.0.0.1/events"}},
		{args: []string{"127.0.0.1:5000"}},
		{args: []string{"--sensor", " , "}},
		{env: map[string]string{"TEMPSTREAM_ADDR": "no-port"}},
	} {
		getenv := func(k string) string { return tc.env[k] }
		err := run(context.Background(), append([]string{"tempstream", "watch"}, tc.args...), getenv, &bytes.Buffer{}, &bytes.Buffer{})
		if !errors.As(err, new(usageError)) {
			t.Errorf("watch %q (env %v): %v, want a usage error", tc.args, tc.env, err)
		}
	}
	var out bytes.Buffer
	err := run(context.Background(), []string{"tempstream", "watch", "--help"}, func(string) string { return "" }, &out, &bytes.Buffer{})
	if !errors.Is(err, flag.ErrHelp) || !strings.Contains(out.String(), "Usage: tempstream watch") || !strings.Contains(out.String(), "--sensor") {
		t.Errorf("watch --help: %v, output:\n%s", err, out.String())
	}
}

// TestWatchURL: the URL from TEMPSTREAM_ADDR, /events for an empty path,
// --sensor added to the query.
func TestWatchURL(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args []string
		env  string
		want string
	}{
		{want: "http://127.0.0.1:5000/events"},
		{env: "0.0.0.0:5123", want: "http://127.0.0.1:5123/events"},
		{args: []string{"--sensor", "lab-1, lab-2"}, env: ":7000", want: "http://127.0.0.1:7000/events?sensor=lab-1,lab-2"},
		{args: []string{"http://h:1"}, want: "http://h:1/events"},
		{args: []string{"https://h/x/events?stream=temperature", "--sensor=a"}, want: "https://h/x/events?sensor=a&stream=temperature"},
	} {
		o, err := parseWatchArgs(tc.args, func(k string) string {
			if k == "TEMPSTREAM_ADDR" {
				return tc.env
			}
			return ""
		}, &bytes.Buffer{})
		if err != nil || o.url != tc.want {
			t.Errorf("watch %q with TEMPSTREAM_ADDR=%q: URL %q, %v; want %q", tc.args, tc.env, o.url, err, tc.want)
		}
	}
}

// TestWatchBackOff: the reconnection delay grows from 250ms to the cap (5s,
// or the server's retry:), never stops, and starts over on restart.
func TestWatchBackOff(t *testing.T) {
	t.Parallel()
	b := newWatchBackOff()
	if d := b.NextBackOff(); d < watchFirstDelay/2 || d > watchFirstDelay*3/2 {
		t.Fatalf("first delay %v", d)
	}
	for range 1000 {
		if d := b.NextBackOff(); d <= 0 || d > watchMaxDelay {
			t.Fatalf("delay %v, want within (0, %v]", d, watchMaxDelay)
		}
	}
	b.setMax(2 * time.Second)
	for range 100 {
		if d := b.NextBackOff(); d <= 0 || d > 2*time.Second {
			t.Fatalf("delay %v with retry: 2s", d)
		}
	}
	b.atLeast(7 * time.Second)
	if d := b.NextBackOff(); d != 7*time.Second {
		t.Fatalf("delay after Retry-After: 7 is %v", d)
	}
	b.Reset() // what the r3labs client calls at every subscribe: no effect
	if d := b.NextBackOff(); d < time.Second {
		t.Fatalf("delay %v after Reset, want it kept at the cap", d)
	}
	b.restart()
	if d := b.NextBackOff(); d > watchFirstDelay*3/2 {
		t.Fatalf("delay %v after restart", d)
	}
	b.setMax(10 * time.Millisecond)
	b.restart()
	if d := b.NextBackOff(); d > 10*time.Millisecond {
		t.Fatalf("delay %v with retry: 10ms", d)
	}
}

// TestWatchBinary: the built binary, stopped with SIGINT or SIGTERM after a
// few readings, exits 0.
func TestWatchBinary(t *testing.T) {
	t.Parallel()
	bin := bin.Path(t)
	ts := startServer(t, "--interval", "20ms")
	for _, sig := range []os.Signal{os.Interrupt, syscall.SIGTERM} {
		t.Run(sig.String(), func(t *testing.T) {
			out, errOut := newLineBuffer(), newLineBuffer()
			cmd := exec.Command(bin, "watch", ts.url+"/events")
			cmd.Env = testharness.ChildEnv()
			cmd.Stdout, cmd.Stderr = out, errOut
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			ended := make(chan struct{})
			var waitErr error
			go func() { waitErr = cmd.Wait(); close(ended) }()
			t.Cleanup(func() {
				select {
				case <-ended:
				default:
					_ = cmd.Process.Kill()
					<-ended
				}
			})
			lines := out.waitLines(t, 10*time.Second, "3 readings", ended, atLeast(3))
			for _, l := range lines {
				if !readingLine.MatchString(l) {
					t.Fatalf("line %q is not a reading", l)
				}
			}
			if err := cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			select {
			case <-ended:
			case <-time.After(5 * time.Second):
				t.Fatalf("watch did not exit within 5s of %v", sig)
			}
			if waitErr != nil || cmd.ProcessState.ExitCode() != 0 {
				t.Fatalf("watch exited with %v after %v; stderr:\n%s", waitErr, sig, errOut)
			}
		})
	}
}

// TestWatchJSONLine: "id" goes first, the server's fields follow as sent.
func TestWatchJSONLine(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ data, want string }{
		{`{"data":"1.00","celsius":1,"sensor":"a","at":"2026-01-02T03:04:05Z"}`, `{"id":"e-1","data":"1.00","celsius":1,"sensor":"a","at":"2026-01-02T03:04:05Z"}`},
		{` { "b" : [1, 2], "a" : "x y" } `, `{"id":"e-1","b":[1,2],"a":"x y"}`},
		{`{}`, `{"id":"e-1"}`},
		{`{"id":"other","a":1}`, `{"a":1,"id":"e-1"}`},
	} {
		var fields map[string]json.RawMessage
		if err := json.Unmarshal([]byte(tc.data), &fields); err != nil {
			t.Fatal(err)
		}
		if got := string(jsonLine("e-1", []byte(tc.data), fields)); got != tc.want+"\n" {
			t.Errorf("jsonLine(%s) = %s, want %s", tc.data, got, tc.want)
		}
	}
}
