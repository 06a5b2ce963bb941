package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"io"
	"net"
	"net/http"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tempstream/tempstream/internal/testharness"
	"github.com/tempstream/tempstream/pkg/sse/ssetest"
)

// TestShutdownEndsStreams: cancelling run's context ends every open stream
// at once (clients see the end of the stream and reconnect elsewhere), and
// run returns nil within a second.
func TestShutdownEndsStreams(t *testing.T) {
	t.Parallel()
	ts := startServer(t, "--interval", "20ms")
	var streams []*ssetest.Stream
	for range 3 {
		c := ts.openStream(t, "/events")
		c.MustNext(t, 5*time.Second)
		streams = append(streams, c)
	}
	start := time.Now()
	stopped := make(chan error, 1)
	go func() { stopped <- ts.stop(5 * time.Second) }()
	for i, c := range streams {
		for {
			_, err := c.Next(time.Until(start.Add(time.Second)))
			if err == nil {
				continue // events sent before the end
			}
			if !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Fatalf("stream %d: %v, want its end within 1s of shutdown", i, err)
			}
			t.Logf("stream %d ended: %v", i, err)
			break
		}
	}
	t.Logf("streams ended %v after cancel", time.Since(start))
	if err := <-stopped; err != nil {
		t.Fatalf("run: %v", err)
	}
	if ts.proc.StopDuration() > time.Second {
		t.Fatalf("run returned %v after cancel, want within 1s", ts.proc.StopDuration())
	}
	for _, c := range streams {
		ts.logs.WaitClosed(t, time.Second, c.Local())
	}
}

// TestSIGTERM: the real binary, sent SIGTERM with a stream open, ends the
// stream within 1s and exits 0 within 2s.
func TestSIGTERM(t *testing.T) {
	t.Parallel()
	// The default store (embedded NATS) on a data dir of the test's own.
	ch := testharness.StartChild(t, "tempstream", bin.Path(t), []string{"--addr", "127.0.0.1:0", "--log-format", "json", "--interval", "20ms", "--data-dir", t.TempDir()},
		10*time.Second, testharness.ProcOptions{})
	logs := ch.Logs
	ts := &testServer{addr: ch.Addr, url: "http://" + ch.Addr}
	c := ts.openStream(t, "/events")
	c.MustNext(t, 5*time.Second)
	c.MustNext(t, 5*time.Second)

	start := time.Now()
	if err := ch.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	for {
		_, err := c.Next(time.Until(start.Add(time.Second)))
		if err == nil {
			continue
		}
		if !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Fatalf("stream: %v, want its end within 1s of SIGTERM", err)
		}
		break
	}
	select {
	case <-ch.Done():
		if ch.Err() != nil {
			t.Fatalf("exit: %v, want 0\n%s", ch.Err(), strings.Join(logs.Raw(), "\n"))
		}
	case <-time.After(time.Until(start.Add(2 * time.Second))):
		t.Fatal("still running 2s after SIGTERM")
	}
	t.Logf("exited 0 %v after SIGTERM", time.Since(start))
	logs.Wait(t, time.Second, "shutting down", func(l logLine) bool { return l.Str("msg") == "shutting down" })
	logs.Wait(t, time.Second, "stopped", func(l logLine) bool { return l.Str("msg") == "stopped" })
}

// TestConfigErrors: a bad flag or environment value makes run fail at once
// with a usageError of one line naming the flag (and the variable).
func TestConfigErrors(t *testing.T) {
	t.Parallel()
	cases := []configCase{
		{"interval not a duration", []string{"--interval", "abc"}, nil, []string{"-interval", "abc"}},
		{"interval not positive", []string{"--interval", "0s"}, nil, []string{"--interval"}},
		{"sim-min not below sim-max", []string{"--sim-min", "40"}, nil, []string{"--sim-min"}},
		{"log format", []string{"--log-format", "xml"}, nil, []string{"--log-format", "xml"}},
		{"retention zero", []string{"--retention", "0"}, nil, []string{"--retention"}},
		{"negative sndbuf", []string{"--sndbuf", "-1"}, nil, []string{"--sndbuf"}},
		{"negative writers", []string{"--writers", "-1"}, nil, []string{"--writers"}},
		{"env writers too many", nil, map[string]string{"TEMPSTREAM_WRITERS": "5000"}, []string{"--writers", "TEMPSTREAM_WRITERS"}},
		{"unknown flag", []string{"--nope"}, nil, []string{"nope"}},
		{"stray argument", []string{"serve"}, nil, []string{"serve"}},
		{"env heartbeat negative", nil, map[string]string{"TEMPSTREAM_HEARTBEAT": "-1s"}, []string{"--heartbeat", "TEMPSTREAM_HEARTBEAT"}},
		{"env interval unparsable", nil, map[string]string{"TEMPSTREAM_INTERVAL": "soon"}, []string{"--interval", "TEMPSTREAM_INTERVAL"}},
	}
	checkConfigErrors(t, cases)
}

// TestHelp: --help documents every flag with its environment variable.
func TestHelp(t *testing.T) {
	t.Parallel()
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), []string{"tempstream", "--help"}, func(string) string { return "" }, &stdout, &stderr)
	if !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("run --help = %v, want flag.ErrHelp", err)
	}
	help := stdout.String()
	n := 0
	newFlagSet(&config{}).VisitAll(func(f *flag.Flag) {
		n++
		env := "TEMPSTREAM_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		// The flag's entry runs from its name to the next flag's.
		_, entry, ok := strings.Cut(help, "--"+f.Name+" ")
		if !ok {
			t.Errorf("--help does not list --%s", f.Name)
			return
		}
		if i := strings.Index(entry, "\n  --"); i >= 0 {
			entry = entry[:i]
		}
		if !strings.Contains(entry, env) {
			t.Errorf("--help entry of --%s does not name %s: %q", f.Name, env, entry)
		}
		if !strings.Contains(entry, f.Usage) {
			t.Errorf("--help entry of --%s lacks its usage: %q", f.Name, entry)
		}
	})
	for _, name := range []string{"addr", "interval", "sim-min", "sim-max", "sim-model", "seed", "heartbeat", "retry",
		"retention", "max-subscribers", "shutdown-timeout", "log-format", "log-level"} {
		if !strings.Contains(help, "--"+name+" ") {
			t.Errorf("--help does not list --%s (issue 2)", name)
		}
	}
	if n < 13 {
		t.Errorf("only %d flags", n)
	}
	if stderr.Len() != 0 {
		t.Errorf("stderr: %s", stderr.String())
	}
}

// TestBinaryExitCodes: the binary exits 2 on a bad flag, with a one-line
// error, and 0 on --help.
func TestBinaryExitCodes(t *testing.T) {
	t.Parallel()
	bin := bin.Path(t)
	for _, tc := range []struct {
		args []string
		code int
	}{
		{[]string{"--interval", "abc"}, 2},
		{[]string{"--sim-min", "40"}, 2},
		{[]string{"--help"}, 0},
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		cmd := exec.CommandContext(ctx, bin, tc.args...) // killed if it hangs
		cmd.Env = testharness.ChildEnv()
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		if ctx.Err() != nil {
			t.Errorf("%v: still running after 10s", tc.args)
		}
		cancel()
		code := 0
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatalf("%v: %v", tc.args, err)
		}
		if code != tc.code {
			t.Errorf("%v: exit code %d, want %d; stderr %q", tc.args, code, tc.code, stderr.String())
		}
		if tc.code == 2 {
			if lines := strings.Split(strings.TrimSuffix(stderr.String(), "\n"), "\n"); len(lines) != 1 || !strings.HasPrefix(lines[0], "tempstream: ") {
				t.Errorf("%v: stderr %q, want one line \"tempstream: …\"", tc.args, stderr.String())
			}
		} else if !strings.Contains(stdout.String(), "--interval") {
			t.Errorf("--help printed %q", stdout.String())
		}
	}
}

// TestHealthcheckCommand: "tempstream healthcheck URL" succeeds against a
// live server and fails against a closed port.
func TestHealthcheckCommand(t *testing.T) {
	t.Parallel()
	// The command uses http.DefaultClient: close its idle connections, or
	// their goroutines would outlive the test.
	t.Cleanup(http.DefaultClient.CloseIdleConnections)
	ts := startServer(t, "--interval", "1h")
	var stdout bytes.Buffer
	noEnv := func(string) string { return "" }
	if err := run(context.Background(), []string{"tempstream", "healthcheck", ts.url + "/healthz"}, noEnv, &stdout, io.Discard); err != nil {
		t.Fatalf("healthcheck of a live server: %v", err)
	}
	if stdout.String() != "ok\n" {
		t.Errorf("stdout %q", stdout.String())
	}
	// A 404 is not healthy either.
	if err := run(context.Background(), []string{"tempstream", "healthcheck", ts.url + "/nope"}, noEnv, io.Discard, io.Discard); err == nil {
		t.Errorf("healthcheck of a 404 succeeded")
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedAddr := ln.Addr().String()
	ln.Close()
	if err := run(context.Background(), []string{"tempstream", "healthcheck", "http://" + closedAddr + "/healthz"}, noEnv, io.Discard, io.Discard); err == nil {
		t.Errorf("healthcheck of a closed port succeeded")
	}
	// Without a URL it asks loopback at TEMPSTREAM_ADDR's port.
	_, port, _ := net.SplitHostPort(ts.addr)
	env := func(k string) string {
		if k == "TEMPSTREAM_ADDR" {
			return "0.0.0.0:" + port
		}
		return ""
	}
	if err := run(context.Background(), []string{"tempstream", "healthcheck"}, env, io.Discard, io.Discard); err != nil {
		t.Errorf("healthcheck from TEMPSTREAM_ADDR: %v", err)
	}
}
