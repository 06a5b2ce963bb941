package proxy_test

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tempstream/tempstream/internal/testlog"
	"github.com/tempstream/tempstream/pkg/sse/ssetest"
)

// delayLimit is how late an event may reach a client through a proxy.
const delayLimit = 100 * time.Millisecond

// TestDirectDelay is the baseline: events straight from tempstream.
func TestDirectDelay(t *testing.T) {
	t.Parallel()
	srv := startServer(t, "--interval", "50ms")
	s, ref := openPair(t, srv, func() *stream { return openStream(t, srv.url+"/events", ssetest.Options{}) })
	checkDelays(t, "direct", measure(t, s, ref, 40), delayLimit)
}

// TestNginxStockDelay: nginx with its stock proxy settings buffers responses
// and speaks HTTP/1.0 to the upstream; the server's X-Accel-Buffering: no
// turns the buffering off, so every event arrives within 100 ms.
func TestNginxStockDelay(t *testing.T) {
	t.Parallel()
	srv := startServer(t, "--interval", "50ms")
	px := nginxStock(t, srv.addr, "")
	s, ref := openPair(t, srv, func() *stream { return openStream(t, "http://"+px.addr+"/events", ssetest.Options{}) })
	if s.resp.ProtoMajor != 1 || s.resp.ProtoMinor != 1 || s.resp.Header.Get("Server") == "" || !strings.HasPrefix(s.resp.Header.Get("Server"), "nginx") {
		t.Fatalf("response %s from %q: not nginx's HTTP/1.1", s.resp.Proto, s.resp.Header.Get("Server"))
	}
	checkDelays(t, "nginx (stock settings)", measure(t, s, ref, 40), delayLimit)
	// nginx's stock proxy speaks HTTP/1.0 to the upstream.
	srv.logs.Wait(t, time.Second, "stream opened over HTTP/1.0", func(l testlog.Line) bool {
		return l["msg"] == "stream opened" && l["proto"] == "HTTP/1.0"
	})
}

// TestNginxStockBuffersWithoutHeader is the control of TestNginxStockDelay:
// told to ignore X-Accel-Buffering, the same nginx holds the events back
// until its buffer (4 KiB, about 30 events) fills and sends them in a burst,
// so the delay test measures what the header does.
func TestNginxStockBuffersWithoutHeader(t *testing.T) {
	t.Parallel()
	srv := startServer(t, "--interval", "50ms")
	px := nginxStock(t, srv.addr, "proxy_ignore_headers X-Accel-Buffering;")
	s, ref := openPair(t, srv, func() *stream { return openStream(t, "http://"+px.addr+"/events", ssetest.Options{}) })
	ps := measure(t, s, ref, 10)
	var as []time.Duration
	for _, p := range ps {
		as = append(as, p.added())
	}
	st := stats(as)
	t.Logf("CONTROL nginx (stock, X-Accel-Buffering ignored): %d events, added by the proxy median %s, max %s", st.n, ms(st.median), ms(st.max))
	if st.max <= delayLimit {
		t.Fatalf("without X-Accel-Buffering nginx passed every event within %v: it did not buffer, so TestNginxStockDelay proves nothing", delayLimit)
	}
}

// TestNginxStockIdle: a stream idle longer than nginx's read timeout stays
// open because of heartbeats. proxy_read_timeout 2s with --heartbeat 500ms
// stands for the stock 60 s with the default 15 s (the same 1:4 ratio); the
// stream idles for 3× the timeout.
func TestNginxStockIdle(t *testing.T) {
	t.Parallel()
	const timeout, heartbeat = 2 * time.Second, 500 * time.Millisecond
	srv := startServer(t, "--interval", "1h", "--heartbeat", heartbeat.String(), "--publish-token", "tok")
	px := nginxStock(t, srv.addr, "proxy_read_timeout 2s;")
	s := openStream(t, "http://"+px.addr+"/events", ssetest.Options{})
	checkIdleSurvives(t, "nginx (stock, proxy_read_timeout 2s)", srv, s, timeout, 3*timeout, heartbeat)
}

// TestNginxStockIdleWithoutHeartbeat is the control of TestNginxStockIdle:
// with heartbeats far apart, nginx closes the idle stream at its timeout.
func TestNginxStockIdleWithoutHeartbeat(t *testing.T) {
	t.Parallel()
	const timeout = 2 * time.Second
	srv := startServer(t, "--interval", "1h", "--heartbeat", "1h")
	px := nginxStock(t, srv.addr, "proxy_read_timeout 2s;")
	s := openStream(t, "http://"+px.addr+"/events", ssetest.Options{})
	checkIdleCut(t, "nginx (stock, proxy_read_timeout 2s)", s, timeout)
}

// TestNginxDeployDelay: the shipped deploy/nginx.conf (HTTP/1.1 and
// keep-alive to the upstream, buffering off) passes every event at once and
// serves the page and the API too.
func TestNginxDeployDelay(t *testing.T) {
	t.Parallel()
	srv := startServer(t, "--interval", "50ms")
	px := nginxDeploy(t, srv.addr, "")
	s, ref := openPair(t, srv, func() *stream { return openStream(t, "http://"+px.addr+"/events", ssetest.Options{}) })
	checkDelays(t, "nginx (deploy/nginx.conf)", measure(t, s, ref, 40), delayLimit)
	srv.logs.Wait(t, time.Second, "stream opened over HTTP/1.1", func(l testlog.Line) bool {
		return l["msg"] == "stream opened" && l["proto"] == "HTTP/1.1"
	})

	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr, Timeout: 5 * time.Second}
	for _, path := range []string{"/temperature", "/healthz", "/api/v1/sensors"} {
		resp, err := c.Get("http://" + px.addr + path)
		if err != nil {
			t.Fatalf("GET %s through nginx: %v", path, err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s through nginx: %s", path, resp.Status)
		}
	}
}

// TestNginxDeployIdle: deploy/nginx.conf keeps an idle stream open; its
// proxy_read_timeout (60s, for the default 15 s heartbeat) is rewritten to
// 2s with --heartbeat 500ms to keep the test short (the same 1:4 ratio).
func TestNginxDeployIdle(t *testing.T) {
	t.Parallel()
	const timeout, heartbeat = 2 * time.Second, 500 * time.Millisecond
	srv := startServer(t, "--interval", "1h", "--heartbeat", heartbeat.String(), "--publish-token", "tok")
	px := nginxDeploy(t, srv.addr, "2s")
	s := openStream(t, "http://"+px.addr+"/events", ssetest.Options{})
	checkIdleSurvives(t, "nginx (deploy/nginx.conf, proxy_read_timeout 2s)", srv, s, timeout, 3*timeout, heartbeat)
}

// TestREADMEShowsDeployConf: the README's nginx block is deploy/nginx.conf's
// stream location, as tested here, word for word.
func TestREADMEShowsDeployConf(t *testing.T) {
	t.Parallel()
	conf, err := os.ReadFile(filepath.Join("..", "..", "deploy", "nginx.conf"))
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	var block []string
	in := false
	for _, line := range strings.Split(string(conf), "\n") {
		if line == "    location = /events {" {
			in = true
		}
		if in {
			block = append(block, strings.TrimPrefix(line, "    "))
			if line == "    }" {
				break
			}
		}
	}
	if len(block) < 3 {
		t.Fatal("deploy/nginx.conf has no \"location = /events {\" block")
	}
	if want := strings.Join(block, "\n"); !strings.Contains(string(readme), "```nginx\n"+want+"\n```") {
		t.Fatalf("README.md does not show deploy/nginx.conf's stream location as it is:\n%s", want)
	}
}
