// Package testharness runs tempstream for tests, in the test process (its
// run function) or as a child process of the built binary, and holds what
// every such test needs beside a stream client (pkg/sse/ssetest): the
// child's environment, free loopback ports, waits on /healthz and on server
// state, and reading /metrics. It is for tests only, used by
// cmd/tempstream's tests and test/proxy.
package testharness

import (
	"bytes"
	"context"
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

	"github.com/tempstream/tempstream/internal/testlog"
)

// ChildEnv is the environment of a child process: the test's, without any
// TEMPSTREAM_* variable (which would change tempstream's configuration) or
// proxy variable (which would send a client such as curl elsewhere).
func ChildEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch strings.ToLower(k) {
		case "http_proxy", "https_proxy", "all_proxy", "no_proxy":
			continue
		}
		if !strings.HasPrefix(k, "TEMPSTREAM_") {
			env = append(env, kv)
		}
	}
	return env
}

// FreeAddr returns a loopback address whose port was free a moment ago.
func FreeAddr(tb testing.TB) string {
	tb.Helper()
	return fmt.Sprintf("127.0.0.1:%d", FreePorts(tb, 1)[0])
}

// FreePorts returns n distinct ports that were free on 127.0.0.1 a moment
// ago (for servers whose ports must be known before they start, such as a
// cluster's routes). Someone else may take one before it is bound.
func FreePorts(tb testing.TB, n int) []int {
	tb.Helper()
	ports := make([]int, n)
	lns := make([]net.Listener, n)
	for i := range lns {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			tb.Fatal(err)
		}
		lns[i] = ln
		ports[i] = ln.Addr().(*net.TCPAddr).Port
	}
	for _, ln := range lns {
		_ = ln.Close()
	}
	return ports
}

// WaitFor polls cond every 10 ms until it holds, failing the test once
// timeout has passed. Only for state that nothing announces (a metric, a
// cluster's leader); an event or a log line is waited on, not polled.
func WaitFor(tb testing.TB, timeout time.Duration, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("%s: not within %v", what, timeout)
		}
		<-tick.C
	}
}

// SyncBuffer is a bytes.Buffer safe for concurrent use.
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *SyncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *SyncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// ---------------------------------------------------------------------------
// Plain HTTP

// Client returns a client with a transport of its own, whose idle
// connections are closed when the test ends (so that no goroutine of it
// outlives the test), and a 10 s timeout: for plain requests, not streams.
func Client(tb testing.TB) *http.Client {
	tr := &http.Transport{}
	tb.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}
}

// Get does a GET of url with c and returns the response with its body
// read; no answer fails the test.
func Get(tb testing.TB, c *http.Client, url string) (*http.Response, []byte) {
	tb.Helper()
	resp, err := c.Get(url)
	if err != nil {
		tb.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatalf("GET %s: reading the body: %v", url, err)
	}
	return resp, body
}

// WaitHealthy fails the test unless GET base/healthz answers 200.
func WaitHealthy(tb testing.TB, c *http.Client, base string) {
	tb.Helper()
	if resp, body := Get(tb, c, base+"/healthz"); resp.StatusCode != http.StatusOK {
		tb.Fatalf("GET /healthz: %s %s", resp.Status, body)
	}
}

// Metric returns the sum of every sample of the named metric in
// base/metrics whose labels contain all of labels (such as
// `stream="temperature"`); none fails the test.
func Metric(tb testing.TB, c *http.Client, base, name string, labels ...string) float64 {
	tb.Helper()
	resp, body := Get(tb, c, base+"/metrics")
	if resp.StatusCode != http.StatusOK {
		tb.Fatalf("GET /metrics: %s", resp.Status)
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
			tb.Fatalf("metric line %q: %v", line, err)
		}
		sum += v
		found = true
	}
	if !found {
		tb.Fatalf("/metrics has no sample of %s %v:\n%s", name, labels, body)
	}
	return sum
}

// ---------------------------------------------------------------------------
// tempstream in the test process

// RunFunc is tempstream's run: the whole program, given its command line,
// its environment and its output.
type RunFunc func(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error

// InProcess is a run of RunFunc in the test process.
type InProcess struct {
	Addr   string        // host:port from its "listening" line
	Logs   *testlog.Sink // its stderr
	Stdout *SyncBuffer

	cancel   context.CancelFunc
	done     chan error
	stopOnce sync.Once
	stopErr  error
	stopDur  time.Duration
}

// Run runs run with the command line args and env as its only environment
// on a goroutine, and returns once it logged "listening" (within 10 s).
// When the test ends it is stopped (an error if it does not return within
// 5 s, or returns one), and its log printed if the test failed.
func Run(tb testing.TB, run RunFunc, env map[string]string, args []string) *InProcess {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	p := &InProcess{Logs: testlog.New(), Stdout: &SyncBuffer{}, cancel: cancel, done: make(chan error, 1)}
	go func() { p.done <- run(ctx, args, func(k string) string { return env[k] }, p.Stdout, p.Logs) }()
	tb.Cleanup(func() {
		if err := p.Stop(5 * time.Second); err != nil {
			tb.Errorf("run at cleanup: %v", err)
		}
		if tb.Failed() {
			for _, l := range p.Logs.Raw() {
				tb.Logf("server log: %s", l)
			}
		}
	})
	select {
	case p.Addr = <-p.Logs.Addr():
	case err := <-p.done:
		p.done <- err // for Stop
		tb.Fatalf("run returned before listening: %v", err)
	case <-time.After(10 * time.Second):
		tb.Fatal("no \"listening\" log line within 10s")
	}
	return p
}

// Stop cancels run's context and waits up to timeout for it to return. It
// returns run's error, or an error if it did not return in time. Only the
// first call waits; later ones return the same.
func (p *InProcess) Stop(timeout time.Duration) error {
	p.stopOnce.Do(func() {
		start := time.Now()
		p.cancel()
		select {
		case err := <-p.done:
			p.stopErr = err
		case <-time.After(timeout):
			p.stopErr = fmt.Errorf("run did not return within %v of cancel", timeout)
		}
		p.stopDur = time.Since(start)
	})
	return p.stopErr
}

// StopDuration is how long the first Stop waited for run to return.
func (p *InProcess) StopDuration() time.Duration { return p.stopDur }

// ---------------------------------------------------------------------------
// The binary

// Binary is the tempstream command, built once, on first use, into Dir.
type Binary struct {
	Dir  string
	once sync.Once
	path string
	err  error
}

// Path builds the command if it is not built yet and returns its path; a
// failed build fails the test. It needs the go command, which `go test`
// puts first in PATH.
func (b *Binary) Path(tb testing.TB) string {
	tb.Helper()
	b.once.Do(func() {
		goTool, err := exec.LookPath("go")
		if err != nil {
			root := os.Getenv("GOROOT")
			if root == "" {
				b.err = fmt.Errorf("no go command in PATH: %w", err)
				return
			}
			goTool = filepath.Join(root, "bin", "go")
		}
		out := filepath.Join(b.Dir, "tempstream")
		cmd := exec.Command(goTool, "build", "-buildvcs=false", "-o", out, "github.com/tempstream/tempstream/cmd/tempstream")
		if msg, err := cmd.CombinedOutput(); err != nil {
			b.err = fmt.Errorf("go build: %v\n%s", err, msg)
			return
		}
		b.path = out
	})
	if b.err != nil {
		tb.Fatal(b.err)
	}
	return b.path
}
