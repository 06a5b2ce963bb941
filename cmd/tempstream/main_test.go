package main

// Integration tests of tempstream: every test runs the real program (run, or
// the built binary) on 127.0.0.1:0 and talks to it over real sockets. This
// file holds what they share beyond internal/testharness (starting and
// stopping the program) and pkg/sse/ssetest (the stream client, which reads
// with the engine's spec-exact parser): the server, its streams, and checks
// of the events.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/tempstream/tempstream/internal/testharness"
	"github.com/tempstream/tempstream/internal/testlog"
	"github.com/tempstream/tempstream/pkg/sse"
	"github.com/tempstream/tempstream/pkg/sse/ssetest"
)

// bin is the built binary, for the tests that run it as a child process:
// built on first use into a directory removed after the run.
var bin testharness.Binary

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "tempstream-it-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	bin.Dir = dir
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

// logLine and logSink are the server's log as tests read it.
type (
	logLine = testlog.Line
	logSink = testlog.Sink
)

// ---------------------------------------------------------------------------
// Server

// testServer is a tempstream under test: run in the test process
// (startServer) or a child process (startInstance).
type testServer struct {
	addr   string // host:port
	url    string // http://host:port
	logs   *logSink
	client *http.Client           // for plain requests; its own transport, closed at cleanup
	proc   *testharness.InProcess // nil for a child process
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
	testharness.WaitHealthy(t, ts.client, ts.url)
	return ts
}

// launch runs the program with the command line all and env as its only
// environment, waits for its "listening" line (ts.addr), and stops it when
// the test ends, printing its log if the test failed.
func launch(t testing.TB, env map[string]string, all []string) *testServer {
	t.Helper()
	p := testharness.Run(t, run, env, all)
	return &testServer{addr: p.Addr, logs: p.Logs, proc: p, client: testharness.Client(t)}
}

// stop cancels run's context and waits up to timeout for it to return (see
// testharness.InProcess.Stop).
func (ts *testServer) stop(timeout time.Duration) error { return ts.proc.Stop(timeout) }

// get does a plain GET and returns the response with its body read.
func (ts *testServer) get(t testing.TB, path string) (*http.Response, []byte) {
	t.Helper()
	return testharness.Get(t, ts.client, ts.url+path)
}

// metric returns the sum of every sample of the named metric in /metrics
// whose labels contain all of labels (e.g. `stream="temperature"`).
func (ts *testServer) metric(t testing.TB, name string, labels ...string) float64 {
	t.Helper()
	return testharness.Metric(t, ts.client, ts.url, name, labels...)
}

// ---------------------------------------------------------------------------
// Streams

// openStream GETs target over a TCP connection of its own (ssetest.Dial,
// read with sse.Reader) with extra header lines ("Name: value"), and
// expects a 200 event stream with the engine's Content-Type.
func (ts *testServer) openStream(t testing.TB, target string, headers ...string) *ssetest.Stream {
	t.Helper()
	return checkStream(t, ssetest.Dial(t, ts.url+target, ssetest.Options{Header: headerLines(headers)}))
}

// checkStream fails unless s has the Content-Type of the engine's streams.
func checkStream(t testing.TB, s *ssetest.Stream) *ssetest.Stream {
	t.Helper()
	if ct := s.Resp.Header.Get("Content-Type"); ct != "text/event-stream; charset=utf-8" {
		t.Fatalf("Content-Type = %q", ct)
	}
	return s
}

// headerLines turns "Name: value" lines into a header, names as written.
func headerLines(lines []string) http.Header {
	h := http.Header{}
	for _, l := range lines {
		k, v, _ := strings.Cut(l, ": ")
		h[k] = append(h[k], v)
	}
	return h
}

// waiter is a stream read on its own goroutine: an ssetest.Recorder or
// ssetest.Follower.
type waiter interface {
	Wait(t testing.TB, timeout time.Duration, what string, cond func([]sse.Received) bool) []sse.Received
}

// waitSeq waits until w has seen the event with sequence number seq (or a
// later one) and returns its events.
func waitSeq(t testing.TB, w waiter, timeout time.Duration, seq uint64) []sse.Received {
	t.Helper()
	return w.Wait(t, timeout, fmt.Sprintf("reaching seq %d", seq), func(evs []sse.Received) bool {
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
