package proxy_test

import (
	"testing"

	"github.com/tempstream/tempstream/pkg/sse/ssetest"
)

// via is one way to reach tempstream: straight, or through one proxy set up
// for the test. It returns the options of ssetest.Dial that go through it:
// Addr for a reverse proxy, Proxy for a forward one.
type via struct {
	name  string
	setup func(t testing.TB, srv *server) ssetest.Options
}

var vias = []via{
	{"direct", func(t testing.TB, srv *server) ssetest.Options { return ssetest.Options{} }},
	{"nginx (stock)", func(t testing.TB, srv *server) ssetest.Options {
		return ssetest.Options{Addr: nginxStock(t, srv.addr, "").addr}
	}},
	{"nginx (deploy/nginx.conf)", func(t testing.TB, srv *server) ssetest.Options {
		return ssetest.Options{Addr: nginxDeploy(t, srv.addr, "").addr}
	}},
	{"haproxy", func(t testing.TB, srv *server) ssetest.Options {
		return ssetest.Options{Addr: startHAProxy(t, srv.addr, haproxyTimeout.String(), "").addr}
	}},
	{"squid (forward)", func(t testing.TB, srv *server) ssetest.Options {
		return ssetest.Options{Proxy: startSquid(t).addr}
	}},
}

// TestHTTP10Client: an HTTP/1.0 client (no chunked encoding) gets the
// stream straight and through every proxy; it ends by connection close.
func TestHTTP10Client(t *testing.T) {
	t.Parallel()
	for _, v := range vias {
		t.Run(v.name, func(t *testing.T) {
			t.Parallel()
			srv := startServer(t, "--interval", "50ms")
			checkHTTP10(t, v.name, srv, v.setup(t, srv))
		})
	}
}

// TestResumeThroughProxy: a client's connection to the proxy is cut
// mid-stream; it reconnects through the proxy with Last-Event-ID and gets
// every event it missed, then live ones: nothing lost, nothing twice.
func TestResumeThroughProxy(t *testing.T) {
	t.Parallel()
	for _, v := range vias[1:] {
		t.Run(v.name, func(t *testing.T) {
			t.Parallel()
			srv := startServer(t, "--interval", "50ms", "--retention", "100000")
			checkResume(t, v.name, srv, v.setup(t, srv))
		})
	}
}
