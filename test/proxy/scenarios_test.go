package proxy_test

import (
	"testing"
)

// via is one way to reach tempstream: straight, or through one proxy set up
// for the test. It returns the address to connect to and the request target
// for a path (absolute for a forward proxy).
type via struct {
	name  string
	setup func(t testing.TB, srv *server) (addr string, target func(path string) string)
}

func reverse(addr string) func(string) string { return func(p string) string { return p } }

var vias = []via{
	{"direct", func(t testing.TB, srv *server) (string, func(string) string) {
		return srv.addr, reverse(srv.addr)
	}},
	{"nginx (stock)", func(t testing.TB, srv *server) (string, func(string) string) {
		px := nginxStock(t, srv.addr, "")
		return px.addr, reverse(px.addr)
	}},
	{"nginx (deploy/nginx.conf)", func(t testing.TB, srv *server) (string, func(string) string) {
		px := nginxDeploy(t, srv.addr, "")
		return px.addr, reverse(px.addr)
	}},
	{"haproxy", func(t testing.TB, srv *server) (string, func(string) string) {
		px := startHAProxy(t, srv.addr, haproxyTimeout.String(), "")
		return px.addr, reverse(px.addr)
	}},
	{"squid (forward)", func(t testing.TB, srv *server) (string, func(string) string) {
		px := startSquid(t)
		return px.addr, func(p string) string { return srv.url + p }
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
			addr, target := v.setup(t, srv)
			checkHTTP10(t, v.name, srv, addr, target("/events"))
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
			addr, target := v.setup(t, srv)
			checkResume(t, v.name, srv, addr, func(headers ...string) string {
				return request("GET "+target("/events")+" HTTP/1.1", srv.addr, headers...)
			})
		})
	}
}
