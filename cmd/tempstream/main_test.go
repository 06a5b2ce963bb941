package main

// Integration tests of tempstream: every test runs the real program (run, or
// the built binary) on 127.0.0.1:0 and talks to it over real sockets. This
// file is the harness: starting a server, reading its JSON logs, opening
// streams over raw TCP and reading them with the engine's spec-exact parser.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/tempstream/tempstream/internal/testlog"
	"github.com/tempstream/tempstream/pkg/sse"
)

var binDir string // where buildBinary puts the binary; removed after the run

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "tempstream-it-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binDir = dir
	// No goroutine is ignored beyond goleak's defaults (the os/signal loop that
	// run's signal.NotifyContext starts once per process): every server,
	// client transport and r3labs client is shut down by the test that made it.
	// With a Cleanup, goleak leaves the exit to it: it must call os.Exit with
	// the code, or a leak would not fail the run.
	goleak.VerifyTestMain(m, goleak.Cleanup(func(code int) {
		_ = os.RemoveAll(dir)
		os.Exit(code)
	}))
}

// ---------------------------------------------------------------------------
// Logs

// logLine is one JSON log line of the server.
// logLine and logSink are the server's log as tests read it.
type (
	logLine = testlog.Line
	logSink = testlog.Sink
)

// ---------------------------------------------------------------------------
// Server

type testServer struct {
	addr   string // host:port
	url    string // http://host:port
	logs   *logSink
	stdout *syncBuffer
	client *http.Client // for plain requests; its own transport, closed at cleanup

	cancel   context.CancelFunc
	done     chan error
	stopOnce sync.Once
	stopErr  error
	stopDur  time.Duration
}

// syncBuffer is a goroutine-safe bytes.Buffer.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// baseArgs come before every test's own flags.
// Most tests need no durability: the memory store starts fastest. The
// JetStream store has its own tests (nats_test.go).
var baseArgs = []string{"tempstream", "--addr", "127.0.0.1:0", "--log-format", "json", "--seed", "1", "--store", "memory"}

// startServer runs the program with baseArgs plus args and no environment.
func startServer(t testing.TB, args ...string) *testServer {
	t.Helper()
	return startServerEnv(t, nil, args...)
}

// startServerEnv runs the program with env as its only environment, waits
// until it serves /healthz, and stops it when the test ends.
func startServerEnv(t testing.TB, env map[string]string, args ...string) *testServer {
	t.Helper()
	ts := launch(t, env, append(append([]string(nil), baseArgs...), args...))
	ts.url = "http://" + ts.addr
	tr := &http.Transport{}
	ts.client = &http.Client{Transport: tr, Timeout: 10 * time.Second}
	t.Cleanup(tr.CloseIdleConnections) // runs before the server stops

	resp, err := ts.client.Get(ts.url + "/healthz")
	if err != nil {
		t.Fatalf("GET /healthz: %v", err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /healthz: %s", resp.Status)
	}
	return ts
}

// stop cancels run's context and waits up to timeout for it to return. It
// returns run's error, or an error if it did not return in time. Only the
// first call waits; later ones return the same result.
func (ts *testServer) stop(timeout time.Duration) error {
	ts.stopOnce.Do(func() {
		start := time.Now()
		ts.cancel()
		select {
		case err := <-ts.done:
			ts.stopErr = err
		case <-time.After(timeout):
			ts.stopErr = fmt.Errorf("run did not return within %v of cancel", timeout)
		}
		ts.stopDur = time.Since(start)
	})
	return ts.stopErr
}

// get does a plain GET and returns the response with its body read.
func (ts *testServer) get(t testing.TB, path string) (*http.Response, []byte) {
	t.Helper()
	resp, err := ts.client.Get(ts.url + path)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: reading body: %v", path, err)
	}
	return resp, body
}

// metric returns the sum of every sample of the named metric in /metrics
// whose labels contain all of labels (e.g. `stream="temperature"`).
func (ts *testServer) metric(t testing.TB, name string, labels ...string) float64 {
	t.Helper()
	resp, body := ts.get(t, "/metrics")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %s", resp.Status)
	}
	sum, found := 0.0, false
	for _, line := range strings.Split(string(body), "\n") {
		if !strings.HasPrefix(line, name+"{") && !strings.HasPrefix(line, name+" ") {
			continue
		}
		ok := true
		for _, l := range labels {
			ok = ok && strings.Contains(line, l)
		}
		if !ok {
			continue
		}
		f := strings.Fields(line)
		v, err := strconv.ParseFloat(f[len(f)-1], 64)
		if err != nil {
			t.Fatalf("metric line %q: %v", line, err)
		}
		sum += v
		found = true
	}
	if !found {
		t.Fatalf("/metrics has no sample of %s %v:\n%s", name, labels, body)
	}
	return sum
}

// waitFor polls cond (server state such as /metrics) until it holds or the
// deadline passes. Only for state that no event announces.
func waitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, timeout)
		}
		<-tick.C
	}
}

// ---------------------------------------------------------------------------
// Streams over raw TCP

// sseConn is one GET of an event stream over its own TCP connection, read
// with sse.Reader. Reads take deadlines on the socket, so nothing waits
// forever. Not safe for concurrent use (see collector).
type sseConn struct {
	conn  net.Conn
	local string // the client's address: "remote" in the server's logs
	resp  *http.Response
	rd    *sse.Reader
}

// request writes a GET of target with extra header lines ("Name: value").
func writeGet(t testing.TB, conn net.Conn, host, target string, headers ...string) {
	t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "GET %s HTTP/1.1\r\nHost: %s\r\nAccept: text/event-stream\r\nUser-Agent: tempstream-it\r\n", target, host)
	for _, h := range headers {
		b.WriteString(h + "\r\n")
	}
	b.WriteString("\r\n")
	_ = conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(conn, b.String()); err != nil {
		t.Fatalf("writing request: %v", err)
	}
}

func (ts *testServer) dial(t testing.TB) net.Conn {
	t.Helper()
	conn, err := net.DialTimeout("tcp", ts.addr, 5*time.Second)
	if err != nil {
		t.Fatalf("dial %s: %v", ts.addr, err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return conn
}

// openStream GETs target on a new connection and expects a 200 event stream.
func (ts *testServer) openStream(t testing.TB, target string, headers ...string) *sseConn {
	t.Helper()
	return ts.openStreamOn(t, ts.dial(t), target, headers...)
}

func (ts *testServer) openStreamOn(t testing.TB, conn net.Conn, target string, headers ...string) *sseConn {
	t.Helper()
	writeGet(t, conn, ts.addr, target, headers...)
	return readStreamResponse(t, conn)
}

// readStreamResponse reads the response head from conn and checks it is a
// 200 event stream.
func readStreamResponse(t testing.TB, conn net.Conn) *sseConn {
	t.Helper()
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(conn), &http.Request{Method: http.MethodGet})
	if err != nil {
		t.Fatalf("reading response head: %v", err)
	}
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		t.Fatalf("stream answered %s: %s", resp.Status, body)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream; charset=utf-8" {
		t.Fatalf("Content-Type = %q", ct)
	}
	return &sseConn{conn: conn, local: conn.LocalAddr().String(), resp: resp, rd: sse.NewReader(resp.Body, 0)}
}

// next reads the next event, waiting at most timeout.
func (c *sseConn) next(timeout time.Duration) (sse.Received, error) {
	_ = c.conn.SetReadDeadline(time.Now().Add(timeout))
	return c.rd.Next()
}

func (c *sseConn) mustNext(t testing.TB, timeout time.Duration) sse.Received {
	t.Helper()
	ev, err := c.next(timeout)
	if err != nil {
		t.Fatalf("reading event from %s: %v", c.local, err)
	}
	return ev
}

func (c *sseConn) close() { _ = c.conn.Close() }

// ---------------------------------------------------------------------------
// Background readers

// collector reads an sseConn on its own goroutine and keeps every event with
// the time it arrived, so a test can compare other clients with it.
type collector struct {
	c *sseConn

	mu      sync.Mutex
	evs     []sse.Received
	at      []time.Time
	err     error // why reading ended
	changed chan struct{}
	done    chan struct{}
}

func collect(t testing.TB, c *sseConn) *collector {
	col := &collector{c: c, changed: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(col.done)
		for {
			// A generous bound: a stream of this suite is never silent this long.
			ev, err := c.next(20 * time.Second)
			col.mu.Lock()
			if err != nil {
				col.err = err
			} else {
				col.evs = append(col.evs, ev)
				col.at = append(col.at, time.Now())
			}
			close(col.changed)
			col.changed = make(chan struct{})
			col.mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	t.Cleanup(col.stop)
	return col
}

// stop closes the connection and waits for the reader to end.
func (col *collector) stop() {
	col.c.close()
	<-col.done
}

func (col *collector) snapshot() ([]sse.Received, []time.Time, error) {
	col.mu.Lock()
	defer col.mu.Unlock()
	return col.evs[:len(col.evs):len(col.evs)], col.at[:len(col.at):len(col.at)], col.err
}

// waitUntil waits until cond holds for the events so far and returns them;
// it fails the test if the deadline passes or reading ends first.
func (col *collector) waitUntil(t testing.TB, timeout time.Duration, what string, cond func([]sse.Received) bool) []sse.Received {
	t.Helper()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for {
		col.mu.Lock()
		evs, err, changed := col.evs[:len(col.evs):len(col.evs)], col.err, col.changed
		col.mu.Unlock()
		if cond(evs) {
			return evs
		}
		if err != nil {
			t.Fatalf("%s: stream of %s ended after %d events: %v", what, col.c.local, len(evs), err)
		}
		select {
		case <-changed:
		case <-timer.C:
			t.Fatalf("%s: not within %v (%d events so far)", what, timeout, len(evs))
		}
	}
}

// waitSeq waits until the collector has seen the event with sequence number
// seq (or a later one) and returns its events.
func (col *collector) waitSeq(t testing.TB, timeout time.Duration, seq uint64) []sse.Received {
	t.Helper()
	return col.waitUntil(t, timeout, fmt.Sprintf("reference reaching seq %d", seq), func(evs []sse.Received) bool {
		return len(evs) > 0 && seqOf(t, evs[len(evs)-1].LastEventID) >= seq
	})
}

// ---------------------------------------------------------------------------
// Event helpers

// splitID splits "<epoch>-<seq>".
func splitID(id string) (epoch string, seq uint64, ok bool) {
	i := strings.LastIndexByte(id, '-')
	if i <= 0 {
		return "", 0, false
	}
	seq, err := strconv.ParseUint(id[i+1:], 10, 64)
	if err != nil || seq == 0 {
		return "", 0, false
	}
	return id[:i], seq, true
}

// mustSplitID is splitID that fails the test on an ID not "<epoch>-<seq>".
func mustSplitID(t testing.TB, id string) (string, uint64) {
	t.Helper()
	epoch, seq, ok := splitID(id)
	if !ok {
		t.Fatalf("event id %q is not <epoch>-<seq>", id)
	}
	return epoch, seq
}

func seqOf(t testing.TB, id string) uint64 {
	t.Helper()
	_, seq := mustSplitID(t, id)
	return seq
}

func epochOf(t testing.TB, id string) string {
	t.Helper()
	epoch, _ := mustSplitID(t, id)
	return epoch
}

// checkConsecutive fails unless evs are temperature events with sequence
// numbers first, first+1, … (all of one epoch).
func checkConsecutive(t testing.TB, who string, evs []sse.Received, first uint64) {
	t.Helper()
	if len(evs) == 0 {
		return
	}
	epoch := epochOf(t, evs[0].LastEventID)
	for i, ev := range evs {
		if ev.Type != "temperature" {
			t.Fatalf("%s: event %d has type %q (data %s), want temperature", who, i, ev.Type, ev.Data)
		}
		if got, want := ev.LastEventID, fmt.Sprintf("%s-%d", epoch, first+uint64(i)); got != want {
			t.Fatalf("%s: event %d has id %s, want %s (a gap or a duplicate)", who, i, got, want)
		}
	}
}

// checkSameAsRef fails unless every event of evs that ref also has (same ID)
// carries the same type and data. ref must be consecutive.
func checkSameAsRef(t testing.TB, who string, evs, ref []sse.Received) {
	t.Helper()
	if len(ref) == 0 {
		return
	}
	first := seqOf(t, ref[0].LastEventID)
	for _, ev := range evs {
		s := seqOf(t, ev.LastEventID)
		if s < first || s-first >= uint64(len(ref)) {
			continue
		}
		r := ref[s-first]
		if r.LastEventID != ev.LastEventID || r.Type != ev.Type || !bytes.Equal(r.Data, ev.Data) {
			t.Fatalf("%s: event %s = %s %s, the reference had %s %s %s", who, ev.LastEventID, ev.Type, ev.Data, r.LastEventID, r.Type, r.Data)
		}
	}
}

// readingData is the JSON data of a temperature event.
type readingData struct {
	Data    string  `json:"data"`
	Celsius float64 `json:"celsius"`
	Sensor  string  `json:"sensor"`
	At      string  `json:"at"`
}

// resetData is the JSON data of a reset event.
type resetData struct {
	Reason      string `json:"reason"`
	LastEventID string `json:"lastEventId"`
	OldestID    string `json:"oldestId"`
}

func decodeStrict(t testing.TB, data []byte, v any) {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		t.Fatalf("event data %q: %v", data, err)
	}
	if dec.More() {
		t.Fatalf("event data %q: trailing data", data)
	}
}

// ---------------------------------------------------------------------------
// The binary

var (
	buildOnce sync.Once
	buildPath string
	buildErr  error
)

// buildBinary builds the command once per test run (lazily) and returns its
// path. It needs the go command, which `go test` puts first in PATH.
func buildBinary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		goTool, err := exec.LookPath("go")
		if err != nil {
			if root := os.Getenv("GOROOT"); root != "" {
				goTool = filepath.Join(root, "bin", "go")
			} else {
				buildErr = fmt.Errorf("no go command in PATH: %w", err)
				return
			}
		}
		out := filepath.Join(binDir, "tempstream")
		cmd := exec.Command(goTool, "build", "-buildvcs=false", "-o", out, ".")
		if msg, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, msg)
			return
		}
		buildPath = out
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return buildPath
}

// childEnv is the environment of the binary: the test's, without any
// TEMPSTREAM_* variable that could change its configuration.
func childEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "TEMPSTREAM_") {
			env = append(env, kv)
		}
	}
	return env
}

// isTimeout reports whether err is a read deadline passing.
func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func decodeJSON(t testing.TB, data []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(data, v); err != nil {
		t.Fatalf("JSON %q: %v", data, err)
	}
}

// configCase is a command line (and environment) that run must refuse.
type configCase struct {
	name    string
	args    []string
	env     map[string]string
	mention []string // what the error must name
}

// checkConfigErrors runs each case: run must return a one-line usageError
// naming everything in mention, before logging anything.
func checkConfigErrors(t *testing.T, cases []configCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var stdout, stderr bytes.Buffer
			args := append([]string{"tempstream", "--addr", "127.0.0.1:0"}, tc.args...)
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			err := run(ctx, args, func(k string) string { return tc.env[k] }, &stdout, &stderr)
			if err == nil {
				t.Fatal("run returned nil")
			}
			if !errors.As(err, new(usageError)) {
				t.Fatalf("error %q (%T) is not a usageError", err, err)
			}
			msg := err.Error()
			if strings.Contains(msg, "\n") {
				t.Errorf("error is not one line: %q", msg)
			}
			for _, m := range tc.mention {
				if !strings.Contains(msg, m) {
					t.Errorf("error %q does not mention %q", msg, m)
				}
			}
			if stderr.Len() != 0 {
				t.Errorf("run logged before failing: %s", stderr.String())
			}
		})
	}
}

// launch runs the program with the command line all and env as its only
// environment, waits for its "listening" line (ts.addr), and stops it when
// the test ends, printing its log if the test failed.
func launch(t testing.TB, env map[string]string, all []string) *testServer {
	t.Helper()
	getenv := func(k string) string { return env[k] }
	ctx, cancel := context.WithCancel(context.Background())
	ts := &testServer{logs: testlog.New(), stdout: &syncBuffer{}, cancel: cancel, done: make(chan error, 1)}
	go func() { ts.done <- run(ctx, all, getenv, ts.stdout, ts.logs) }()

	t.Cleanup(func() {
		if err := ts.stop(5 * time.Second); err != nil {
			t.Errorf("run at cleanup: %v", err)
		}
		if t.Failed() {
			for _, l := range ts.logs.Raw() {
				t.Logf("server log: %s", l)
			}
		}
	})

	select {
	case ts.addr = <-ts.logs.Addr():
	case err := <-ts.done:
		ts.done <- err // for stop
		t.Fatalf("run returned before listening: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("no \"listening\" log line within 10s")
	}
	return ts
}
