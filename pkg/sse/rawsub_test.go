package sse

import (
	"bufio"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"testing"
	"time"
)

// Servers for the tests (of package sse_test too: they are exported), and
// rawSub, the client of the tests and benchmarks of package sse itself
// (pool_keys_test.go, bench_test.go), which cannot import pkg/sse/ssetest
// (it imports this package): every other test uses ssetest.

// MustServe starts h on a real loopback server (HTTP/2 over TLS when tls is
// true) and closes it when the test ends.
func MustServe(tb testing.TB, h http.Handler, useTLS bool) (*httptest.Server, *http.Client) {
	tb.Helper()
	srv := httptest.NewUnstartedServer(h)
	if useTLS {
		srv.EnableHTTP2 = true
		srv.StartTLS()
	} else {
		srv.Start()
	}
	client := srv.Client()
	tb.Cleanup(func() {
		client.CloseIdleConnections()
		srv.Close()
	})
	return srv, client
}

// MustServePooled starts h (whose Writers should be set) on a real loopback
// server and, when the test ends, stops the server and then h's writers.
func MustServePooled(tb testing.TB, h *Handler) *httptest.Server {
	tb.Helper()
	tb.Cleanup(func() {
		if err := h.Close(); err != nil {
			tb.Error(err)
		}
	})
	srv, _ := MustServe(tb, h, false)
	return srv
}

// rawSub is a subscriber on a bare TCP connection, read by the test's own
// goroutine: it adds no goroutine to the process.
type rawSub struct {
	c    *net.TCPConn
	resp *http.Response
	r    *Reader
}

// dialSub opens a stream on url with an HTTP/1.1 GET written by hand.
func dialSub(tb testing.TB, url string, hdr http.Header) *rawSub {
	tb.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		tb.Fatal(err)
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	c, err := net.Dial("tcp", req.URL.Host)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { c.Close() })
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if err := req.Write(c); err != nil {
		tb.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), req)
	if err != nil {
		tb.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		tb.Fatalf("status %d", resp.StatusCode)
	}
	return &rawSub{c: c.(*net.TCPConn), resp: resp, r: NewReader(resp.Body, 0)}
}

// next reads the next event, within 10 s.
func (s *rawSub) next(tb testing.TB) Received {
	tb.Helper()
	_ = s.c.SetReadDeadline(time.Now().Add(10 * time.Second))
	ev, err := s.r.Next()
	if err != nil {
		tb.Fatal(err)
	}
	return ev
}

// waitFor polls cond until it holds, failing the test after 10 s.
func waitFor(tb testing.TB, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out waiting for %s", what)
		}
		runtime.Gosched()
		time.Sleep(time.Millisecond)
	}
}
