package testharness

import (
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tempstream/tempstream/internal/testlog"
)

func TestChildEnvDropsConfiguration(t *testing.T) {
	t.Setenv("TEMPSTREAM_INTERVAL", "1ms")
	t.Setenv("http_proxy", "http://127.0.0.1:1")
	t.Setenv("HTTPS_PROXY", "http://127.0.0.1:1")
	t.Setenv("KEEP_ME", "1")
	env := ChildEnv()
	for _, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "TEMPSTREAM_") || strings.EqualFold(k, "http_proxy") || strings.EqualFold(k, "https_proxy") {
			t.Errorf("child environment has %s", kv)
		}
	}
	if !slices.Contains(env, "KEEP_ME=1") {
		t.Error("child environment lost KEEP_ME")
	}
}

func TestFreePortsAreDistinct(t *testing.T) {
	ports := FreePorts(t, 5)
	seen := map[int]bool{}
	for _, p := range ports {
		if p <= 0 || seen[p] {
			t.Fatalf("ports %v", ports)
		}
		seen[p] = true
	}
}

func TestMetricSumsMatchingSamples(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "# HELP x_total x\nx_total{stream=\"a\",reason=\"q\"} 2\nx_total{stream=\"b\",reason=\"q\"} 3\nx_total_other 7\ny 1.5\n")
	}))
	defer srv.Close()
	c := Client(t)
	if got := Metric(t, c, srv.URL, "x_total"); got != 5 {
		t.Errorf("x_total = %v, want 5", got)
	}
	if got := Metric(t, c, srv.URL, "x_total", `stream="b"`); got != 3 {
		t.Errorf("x_total{stream=b} = %v, want 3", got)
	}
	if got := Metric(t, c, srv.URL, "y"); got != 1.5 {
		t.Errorf("y = %v, want 1.5", got)
	}
}

func TestProcessTerminates(t *testing.T) {
	out := testlog.New()
	p := Start(t, "sh", "/bin/sh", []string{"-c", `trap 'exit 0' TERM; echo started; while :; do sleep 0.01; done`}, ProcOptions{Stdout: out, Term: 5 * time.Second})
	out.Wait(t, 5*time.Second, "started", func(l testlog.Line) bool { return l.Str("unparsed") == "started" }) // the trap is set
	p.Terminate(t, 5*time.Second)
	if p.Err() != nil {
		t.Fatalf("exit %v", p.Err())
	}
	k := Start(t, "sleep", "/bin/sleep", []string{"60"}, ProcOptions{Group: true})
	k.Kill(t)
	if ws, ok := k.Cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("sleep ended %v", k.Cmd.ProcessState)
	}
}
