package proxy_test

import (
	"bufio"
	"net/http"
	"net/textproto"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tempstream/tempstream/internal/testharness"
	"github.com/tempstream/tempstream/pkg/sse/ssetest"
)

// squidInterval is the publish interval of the Squid tests: each event must
// arrive before the next is published, so it is a little longer than the
// other tests' 50 ms to leave the check room on a loaded machine.
const squidInterval = 100 * time.Millisecond

// TestSquidGoClient: a Go client whose transport uses Squid as its forward
// proxy (what HTTP_PROXY configures; Go ignores HTTP_PROXY for loopback
// targets, so the test sets the proxy itself) gets events one by one.
func TestSquidGoClient(t *testing.T) {
	t.Parallel()
	srv := startServer(t, "--interval", squidInterval.String())
	px := startSquid(t)
	tr := &http.Transport{Proxy: http.ProxyURL(&url.URL{Scheme: "http", Host: px.addr})}
	t.Cleanup(tr.CloseIdleConnections)
	ref := openStream(t, srv.url+"/events", ssetest.Options{})
	s := record(t, ssetest.Open(t, srv.url+"/events", ssetest.Options{Client: &http.Client{Transport: tr}}))
	if via := s.resp.Header.Get("Via"); !strings.Contains(via, "squid") {
		t.Fatalf("response has Via %q: it did not come through squid", via)
	}
	ps := measure(t, s, ref, 20)
	checkDelays(t, "squid (forward proxy, Go client)", ps, delayLimit)
	checkOneByOne(t, "squid (forward proxy, Go client)", ps, squidInterval)
}

// TestSquidCurl: curl -N -x through Squid gets events one by one.
func TestSquidCurl(t *testing.T) {
	t.Parallel()
	curl := lookBinary(t, "curl", "curl")
	srv := startServer(t, "--interval", squidInterval.String())
	px := startSquid(t)
	dir := t.TempDir()
	hdrFile := filepath.Join(dir, "headers.txt")
	errFile, err := os.Create(filepath.Join(dir, "curl.err"))
	if err != nil {
		t.Fatal(err)
	}
	defer errFile.Close()
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	ref := openStream(t, srv.url+"/events", ssetest.Options{})
	cmd := exec.Command(curl, "-sS", "-N", "-D", hdrFile, "-x", "http://"+px.addr, srv.url+"/events")
	cmd.Env = testharness.ChildEnv()
	cmd.Stdout, cmd.Stderr = pw, errFile
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting curl: %v", err)
	}
	_ = pw.Close()
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			_ = cmd.Process.Kill()
			<-exited
			_ = pr.Close()
		})
	}
	t.Cleanup(stop)
	// curl writes the body only; its headers are in hdrFile.
	s := &stream{Recorder: ssetest.Pipe(t, "curl -x", pr, stop).Record(t)}
	ps := measure(t, s, ref, 20)

	f, err := os.Open(hdrFile)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tp := textproto.NewReader(bufio.NewReader(f))
	status, err := tp.ReadLine()
	if err != nil {
		t.Fatal(err)
	}
	hdr, err := tp.ReadMIMEHeader()
	if err != nil {
		t.Fatalf("curl's headers: %v", err)
	}
	if !strings.Contains(status, " 200") || !strings.HasPrefix(hdr.Get("Content-Type"), "text/event-stream") || !strings.Contains(hdr.Get("Via"), "squid") {
		t.Fatalf("curl got %q, Content-Type %q, Via %q: want 200, an event stream, through squid", status, hdr.Get("Content-Type"), hdr.Get("Via"))
	}
	checkDelays(t, "squid (forward proxy, curl -x)", ps, delayLimit)
	checkOneByOne(t, "squid (forward proxy, curl -x)", ps, squidInterval)
}
