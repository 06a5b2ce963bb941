package main

// HTTP/2 over TLS (--tls-cert, --tls-key): the same stream, many streams on
// one connection (so browsers are not held to 6 per origin), no Connection
// header, and resuming with Last-Event-ID.

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/tempstream/tempstream/pkg/sse"
	"github.com/tempstream/tempstream/pkg/sse/ssetest"
)

// selfSigned writes a self-signed ECDSA certificate for 127.0.0.1 and
// localhost and its key into dir, and returns their paths and a pool that
// trusts the certificate.
func selfSigned(t testing.TB, dir string) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(time.Now().UnixNano()),
		Subject:               pkix.Name{CommonName: "tempstream test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1")},
		DNSNames:              []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

// startTLSServer runs the program with --tls-cert and --tls-key plus args and
// returns it (url https://…) with a pool that trusts its certificate.
func startTLSServer(t *testing.T, args ...string) (ts *testServer, pool *x509.CertPool) {
	t.Helper()
	certFile, keyFile, pool := selfSigned(t, t.TempDir())
	all := append(append([]string(nil), baseArgs...), "--tls-cert", certFile, "--tls-key", keyFile)
	ts = launch(t, nil, append(all, args...))
	ts.url = "https://" + ts.addr
	l := ts.logs.Wait(t, time.Second, "listening", func(l logLine) bool { return l.Str("msg") == "listening" })
	if l.Str("page") != ts.url+"/temperature" || l["tls"] != true {
		t.Errorf("listening line has page %q tls %v, want %q true", l.Str("page"), l["tls"], ts.url+"/temperature")
	}
	return ts, pool
}

// tlsClient returns a client trusting pool; HTTP/2 when h2, else HTTP/1.1.
// Its idle connections are closed when the test ends (before the server
// stops).
func tlsClient(t *testing.T, pool *x509.CertPool, h2 bool) *http.Client {
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, ForceAttemptHTTP2: h2}
	if !h2 {
		tr.TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{} // no h2
	}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}
}

// openTLSStream GETs url with c (ssetest.Open) and expects a 200 event
// stream; the response ends when the test does.
func openTLSStream(t *testing.T, c *http.Client, url string, o ssetest.Options) *ssetest.Stream {
	t.Helper()
	o.Client = c
	return checkStream(t, ssetest.Open(t, url, o))
}

// TestHTTP2OverTLS: with --tls-cert/--tls-key the stream is served over
// HTTP/2 without a Connection header; many streams share one connection; a
// client that left resumes with Last-Event-ID and loses nothing.
func TestHTTP2OverTLS(t *testing.T) {
	t.Parallel()
	ts, pool := startTLSServer(t, "--interval", "50ms", "--retention", "100000")
	client := tlsClient(t, pool, true)

	// More streams than a browser's 6 HTTP/1.1 connections per origin, all on
	// one HTTP/2 connection.
	const n = 8
	streams := make([]*ssetest.Stream, n)
	for i := range streams {
		streams[i] = openTLSStream(t, client, ts.url+"/events", ssetest.Options{})
		resp := streams[i].Resp
		if resp.Proto != "HTTP/2.0" || resp.ProtoMajor != 2 {
			t.Fatalf("stream %d: proto %s, want HTTP/2.0", i, resp.Proto)
		}
		if v, ok := resp.Header["Connection"]; ok {
			t.Fatalf("stream %d: Connection header %q sent over HTTP/2", i, v)
		}
		for k, want := range map[string]string{
			"Content-Type":      "text/event-stream; charset=utf-8",
			"Cache-Control":     "no-cache, no-transform",
			"X-Accel-Buffering": "no",
		} {
			if got := resp.Header.Get(k); got != want {
				t.Fatalf("stream %d: %s = %q, want %q", i, k, got, want)
			}
		}
	}
	for i, s := range streams {
		ev := s.MustNext(t, 5*time.Second)
		if ev.Type != "temperature" {
			t.Fatalf("stream %d: first event %s %s", i, ev.Type, ev.Data)
		}
		var d readingData
		decodeStrict(t, ev.Data, &d)
	}
	remotes := map[string]bool{}
	lines, _ := ts.logs.Snapshot()
	for _, l := range lines {
		if l.Str("msg") == "stream opened" {
			if l.Str("proto") != "HTTP/2.0" {
				t.Fatalf("stream opened with proto %q, want HTTP/2.0", l.Str("proto"))
			}
			remotes[l.Str("remote")] = true
		}
	}
	if len(remotes) != 1 {
		t.Fatalf("%d streams came from %d client addresses, want one HTTP/2 connection: %v", n, len(remotes), remotes)
	}

	// Resume: streams[1] leaves after a few events, the reference
	// (streams[0]) sees more, streams[1] comes back with Last-Event-ID.
	ref, leaver := streams[0], streams[1]
	var last sse.Received
	for range 3 {
		last = leaver.MustNext(t, 5*time.Second)
	}
	leaver.Close()
	lastSeq := seqOf(t, last.LastEventID)
	var refEvs []sse.Received
	for len(refEvs) == 0 || seqOf(t, refEvs[len(refEvs)-1].LastEventID) < lastSeq+5 {
		ev := ref.MustNext(t, 5*time.Second)
		if seqOf(t, ev.LastEventID) > lastSeq {
			refEvs = append(refEvs, ev)
		}
	}
	checkConsecutive(t, "reference", refEvs, lastSeq+1)
	back := openTLSStream(t, client, ts.url+"/events", ssetest.Options{LastEventID: last.LastEventID})
	var got []sse.Received
	for len(got) < len(refEvs) {
		got = append(got, back.MustNext(t, 5*time.Second))
	}
	checkConsecutive(t, "resumed over HTTP/2", got, lastSeq+1)
	checkSameAsRef(t, "resumed over HTTP/2", got, refEvs)
	t.Logf("%d streams on one HTTP/2 connection; resumed after %s with %d events, none lost", n, last.LastEventID, len(got))
}

// TestHTTP11OverTLS: a client without HTTP/2 still gets the stream over
// TLS, with Connection: keep-alive as on plain HTTP/1.1.
func TestHTTP11OverTLS(t *testing.T) {
	t.Parallel()
	ts, pool := startTLSServer(t, "--interval", "50ms")
	s := openTLSStream(t, tlsClient(t, pool, false), ts.url+"/events", ssetest.Options{})
	if s.Resp.Proto != "HTTP/1.1" || s.Resp.TLS == nil {
		t.Fatalf("proto %s, TLS %v: want HTTP/1.1 over TLS", s.Resp.Proto, s.Resp.TLS != nil)
	}
	if got := s.Resp.Header.Get("Connection"); got != "keep-alive" {
		t.Fatalf("Connection = %q, want keep-alive", got)
	}
	for range 3 {
		if ev := s.MustNext(t, 5*time.Second); ev.Type != "temperature" {
			t.Fatalf("event %s %s", ev.Type, ev.Data)
		}
	}
}

// TestTLSConfigErrors: --tls-cert and --tls-key go together, and the pair
// must load, or the program stops at start naming the flag.
func TestTLSConfigErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cert, key, _ := selfSigned(t, dir)
	other := t.TempDir()
	_, otherKey, _ := selfSigned(t, other)
	garbage := filepath.Join(dir, "garbage.pem")
	if err := os.WriteFile(garbage, []byte("not PEM"), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []configCase{
		{"cert without key", []string{"--tls-cert", cert}, nil, []string{"--tls-key", "TEMPSTREAM_TLS_KEY"}},
		{"key without cert", []string{"--tls-key", key}, nil, []string{"--tls-cert", "TEMPSTREAM_TLS_CERT"}},
		{"env cert without key", nil, map[string]string{"TEMPSTREAM_TLS_CERT": cert}, []string{"--tls-key"}},
		{"missing cert file", []string{"--tls-cert", filepath.Join(dir, "nope.pem"), "--tls-key", key}, nil, []string{"--tls-cert", "nope.pem"}},
		{"missing key file", []string{"--tls-cert", cert, "--tls-key", filepath.Join(dir, "nope.pem")}, nil, []string{"--tls-key", "nope.pem"}},
		{"cert not PEM", []string{"--tls-cert", garbage, "--tls-key", key}, nil, []string{"--tls-cert", "garbage.pem"}},
		{"key of another cert", []string{"--tls-cert", cert, "--tls-key", otherKey}, nil, []string{"--tls-cert", "--tls-key", "does not match"}},
	}
	checkConfigErrors(t, cases)
}
