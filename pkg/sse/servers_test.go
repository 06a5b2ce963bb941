package sse

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// Servers for the tests of package sse_test (exported for them); their
// client is pkg/sse/ssetest.

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
