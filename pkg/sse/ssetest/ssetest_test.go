package ssetest

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/tempstream/tempstream/pkg/sse"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const wait = 5 * time.Second

// remotes is a handler in front of h that keeps the client address of
// every request.
type remotes struct {
	h    http.Handler
	mu   sync.Mutex
	seen []string
}

func (rs *remotes) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rs.mu.Lock()
	rs.seen = append(rs.seen, r.RemoteAddr)
	rs.mu.Unlock()
	rs.h.ServeHTTP(w, r)
}

func (rs *remotes) list() []string {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	return append([]string(nil), rs.seen...)
}

// serve starts a broker with stream "s" (events published by the test),
// served by h on loopback (HTTP/2 over TLS when useTLS).
func serve(t *testing.T, h *sse.Handler, useTLS bool) (*sse.Stream, *httptest.Server, *remotes) {
	t.Helper()
	b := sse.NewBroker(sse.StreamOptions{Epoch: "e"}, "s")
	t.Cleanup(b.Close)
	h.Broker = b
	rs := &remotes{h: h}
	srv := httptest.NewUnstartedServer(rs)
	if useTLS {
		srv.EnableHTTP2 = true
		srv.StartTLS()
	} else {
		srv.Start()
	}
	t.Cleanup(srv.Close)
	t.Cleanup(srv.Client().CloseIdleConnections)
	st, _ := b.Stream("s")
	return st, srv, rs
}

func publish(t *testing.T, st *sse.Stream, n int) []string {
	t.Helper()
	ids := make([]string, n)
	for i := range ids {
		id, err := st.Publish("t", fmt.Appendf(nil, "%d", i))
		if err != nil {
			t.Fatal(err)
		}
		ids[i] = id
	}
	return ids
}

func ids(evs []sse.Received) string {
	var s []string
	for _, ev := range evs {
		s = append(s, ev.LastEventID)
	}
	return strings.Join(s, ",")
}

func TestDialReadsTheStreamAndKeepsTheHead(t *testing.T) {
	st, srv, rs := serve(t, &sse.Handler{Retry: 1500 * time.Millisecond}, false)
	publish(t, st, 3)
	s := Dial(t, srv.URL, Options{LastEventID: "e-1", Header: http.Header{"X-Test": {"a b"}}})
	if !strings.HasPrefix(s.Head(), "HTTP/1.1 200 OK\r\n") || !strings.HasSuffix(s.Head(), "\r\n\r\n") ||
		!strings.Contains(s.Head(), "\r\nTransfer-Encoding: chunked\r\n") {
		t.Fatalf("head %q", s.Head())
	}
	if got := ids(s.Take(t, 2, wait)); got != "e-2,e-3" {
		t.Fatalf("events %s, want e-2,e-3", got)
	}
	if s.Retry() != 1500*time.Millisecond || s.LastEventID() != "e-3" {
		t.Fatalf("retry %v, last event ID %q", s.Retry(), s.LastEventID())
	}
	if seen := rs.list(); len(seen) != 1 || seen[0] != s.Local() || s.Conn().LocalAddr().String() != s.Local() {
		t.Fatalf("server saw %v, client is %s", seen, s.Local())
	}
	id := publish(t, st, 1)[0]
	if got := ids(s.Until(t, id, wait)); got != id {
		t.Fatalf("until %s: %s", id, got)
	}
}

func TestRequestText(t *testing.T) {
	s, _ := http.NewRequest(http.MethodGet, "http://h:1/events?x=%00", nil)
	got := requestText(s.URL, Options{LastEventID: "e-1", Proto: "HTTP/1.0", Header: http.Header{"B": {"2"}, "A": {"1", "3"}}})
	want := "GET /events?x=%00 HTTP/1.0\r\nHost: h:1\r\nAccept: text/event-stream\r\nUser-Agent: ssetest\r\nLast-Event-ID: e-1\r\nA: 1\r\nA: 3\r\nB: 2\r\n\r\n"
	if got != want {
		t.Fatalf("request %q, want %q", got, want)
	}
	got = requestText(s.URL, Options{Proxy: "p:2", Header: http.Header{"Accept": {"*/*"}, "User-Agent": {"me"}}})
	want = "GET http://h:1/events?x=%00 HTTP/1.1\r\nHost: h:1\r\nAccept: */*\r\nUser-Agent: me\r\n\r\n"
	if got != want {
		t.Fatalf("request %q, want %q", got, want)
	}
}

// TestDialThroughAProxy: Proxy sends the absolute URL to the proxy, Addr
// the origin form to another address; both keep the URL's Host.
func TestDialThroughAProxy(t *testing.T) {
	got := make(chan string, 2)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- r.Host + " " + r.RequestURI
		w.Header().Set("Content-Type", "text/event-stream")
		_, _ = io.WriteString(w, "id: 1\ndata: x\n\n")
	}))
	defer srv.Close()
	addr := srv.Listener.Addr().String()
	for _, tc := range []struct {
		o    Options
		want string
	}{
		{Options{Proxy: addr}, "origin.invalid:80 http://origin.invalid:80/events?a=1"},
		{Options{Addr: addr}, "origin.invalid:80 /events?a=1"},
	} {
		s := Dial(t, "http://origin.invalid:80/events?a=1", tc.o)
		if ev := s.MustNext(t, wait); string(ev.Data) != "x" {
			t.Fatalf("event %+v", ev)
		}
		if evs, err := s.Rest(wait); err != io.EOF || len(evs) != 0 {
			t.Fatalf("after the event: %v, %v; want a clean end", evs, err)
		}
		if g := <-got; g != tc.want {
			t.Fatalf("server got %q, want %q", g, tc.want)
		}
	}
}

func TestOpenOverHTTP2(t *testing.T) {
	st, srv, rs := serve(t, &sse.Handler{}, true)
	publish(t, st, 2)
	a := Open(t, srv.URL, Options{Client: srv.Client(), LastEventID: sse.Earliest})
	b := Open(t, srv.URL, Options{Client: srv.Client()})
	if a.Resp.ProtoMajor != 2 || b.Resp.ProtoMajor != 2 {
		t.Fatalf("protos %s %s, want HTTP/2", a.Resp.Proto, b.Resp.Proto)
	}
	if got := ids(a.Take(t, 2, wait)); got != "e-1,e-2" {
		t.Fatalf("a: %s", got)
	}
	if got := ids(b.Take(t, 1, wait)); got != "e-2" {
		t.Fatalf("b: %s", got)
	}
	if seen := rs.list(); len(seen) != 2 || seen[0] != a.Local() || seen[1] != a.Local() || b.Local() != a.Local() {
		t.Fatalf("server saw %v; clients %s %s: want one connection", seen, a.Local(), b.Local())
	}
}

// TestNextTimesOut: a deadline passed ends the stream, for both kinds; the
// error stays.
func TestNextTimesOut(t *testing.T) {
	_, srv, _ := serve(t, &sse.Handler{Heartbeat: time.Hour}, false)
	for name, s := range map[string]*Stream{"dial": Dial(t, srv.URL, Options{}), "open": Open(t, srv.URL, Options{})} {
		start := time.Now()
		_, err := s.Next(50 * time.Millisecond)
		if !IsTimeout(err) {
			t.Fatalf("%s: %v, want a timeout", name, err)
		}
		if d := time.Since(start); d < 50*time.Millisecond || d > wait {
			t.Fatalf("%s: timed out after %v", name, d)
		}
		if _, err2 := s.Next(wait); err2 != err {
			t.Fatalf("%s: then %v, want %v again", name, err2, err)
		}
	}
}

func TestAnyStatus(t *testing.T) {
	_, srv, _ := serve(t, &sse.Handler{}, false)
	for name, s := range map[string]*Stream{
		"dial": Dial(t, srv.URL+"?stream=nope", Options{AnyStatus: true}),
		"open": Open(t, srv.URL+"?stream=nope", Options{AnyStatus: true}),
	} {
		if s.Resp.StatusCode != http.StatusNotFound || !strings.Contains(s.Text, `"error"`) {
			t.Fatalf("%s: %s %q", name, s.Resp.Status, s.Text)
		}
		if _, err := s.Next(wait); err != io.EOF {
			t.Fatalf("%s: Next = %v, want io.EOF", name, err)
		}
	}
	if _, err := dial(srv.URL+"?stream=nope", Options{}); err == nil || !strings.Contains(err.Error(), "404") {
		t.Fatalf("dial of a 404: %v", err)
	}
	if _, err := open(srv.URL+"?stream=nope", Options{}); err == nil || !strings.Contains(err.Error(), "404") {
		t.Fatalf("open of a 404: %v", err)
	}
}

// TestHTTP10: the answer to an HTTP/1.0 request ends with the connection.
func TestHTTP10(t *testing.T) {
	st, srv, _ := serve(t, &sse.Handler{}, false)
	ids0 := publish(t, st, 1)
	s := Dial(t, srv.URL, Options{Proto: "HTTP/1.0"})
	if len(s.Resp.TransferEncoding) != 0 || !s.Resp.Close {
		t.Fatalf("%s: Transfer-Encoding %v, close %v", s.Resp.Proto, s.Resp.TransferEncoding, s.Resp.Close)
	}
	ids1 := publish(t, st, 2)
	if got := ids(s.Take(t, 3, wait)); got != strings.Join(append(ids0, ids1...), ",") {
		t.Fatalf("got %s", got)
	}
	st.Close()
	if evs, err := s.Rest(wait); err != io.EOF || len(evs) != 0 {
		t.Fatalf("after close: %s, %v; want the connection's end", ids(evs), err)
	}
}

func TestTapAndComments(t *testing.T) {
	_, srv, _ := serve(t, &sse.Handler{Heartbeat: 10 * time.Millisecond}, false)
	tap := &StopAfter{N: 3}
	for _, s := range []*Stream{Dial(t, srv.URL, Options{Tap: tap}), Open(t, srv.URL, Options{Tap: tap})} {
		tap.S = s
		tap.Seen.Reset()
		before := time.Now()
		if _, err := s.Next(wait); err != ErrEnough {
			t.Fatalf("Next = %v, want the tap's error", err)
		}
		if s.Comments() < 3 || strings.Count(tap.Seen.String(), ": heartbeat\n") != s.Comments() {
			t.Fatalf("%d comments; the tap saw %q", s.Comments(), tap.Seen.String())
		}
		if lb := s.LastByte(); lb.Before(before) || lb.After(time.Now()) {
			t.Fatalf("last byte at %v", lb)
		}
	}
}

func TestRecorder(t *testing.T) {
	st, srv, _ := serve(t, &sse.Handler{}, false)
	r := Dial(t, srv.URL, Options{LastEventID: sse.Earliest}).Record(t)
	want := publish(t, st, 5)
	if got := ids(r.WaitN(t, wait, 5)); got != strings.Join(want, ",") {
		t.Fatalf("recorded %s", got)
	}
	if got := ids(r.WaitID(t, wait, want[2])); got != strings.Join(want[:3], ",") {
		t.Fatalf("up to %s: %s", want[2], got)
	}
	for _, id := range want[:2] {
		if ev, at, err := r.Next(wait); err != nil || ev.LastEventID != id || at.IsZero() {
			t.Fatalf("Next = %+v %v %v, want %s", ev, at, err, id)
		}
	}
	_, at, _ := r.Snapshot()
	for i := 1; i < len(at); i++ {
		if at[i].Before(at[i-1]) {
			t.Fatalf("arrival times %v", at)
		}
	}
	st.Close()
	if err, _ := r.End(t, wait); err != io.EOF {
		t.Fatalf("end: %v", err)
	}
	for range 3 { // the events before the end come first
		if _, _, err := r.Next(wait); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := r.Next(wait); err != io.EOF {
		t.Fatalf("after the last event: %v, want io.EOF", err)
	}
}

// TestFollowerResumes: a Follower whose connection is cut reconnects to its
// new target with Last-Event-ID and misses nothing.
func TestFollowerResumes(t *testing.T) {
	for _, kind := range []string{"dial", "open"} {
		t.Run(kind, func(t *testing.T) {
			b := sse.NewBroker(sse.StreamOptions{Epoch: "e"}, "s")
			defer b.Close()
			st, _ := b.Stream("s")
			srvA := httptest.NewServer(&sse.Handler{Broker: b})
			defer srvA.Close()
			srvB := httptest.NewServer(&sse.Handler{Broker: b})
			defer srvB.Close()
			first := publish(t, st, 1)[0]
			var s *Stream
			if kind == "dial" {
				s = Dial(t, srvA.URL, Options{})
			} else {
				s = Open(t, srvA.URL, Options{})
			}
			f := Follow(t, s, FollowOptions{})
			f.Wait(t, wait, "the first event", func(evs []sse.Received) bool { return len(evs) == 1 })
			f.Retarget(srvB.URL)
			srvA.CloseClientConnections()
			more := publish(t, st, 20)
			evs := f.Wait(t, wait, "every event", func(evs []sse.Received) bool {
				return len(evs) > 0 && evs[len(evs)-1].LastEventID == more[len(more)-1]
			})
			if got, want := ids(evs), strings.Join(append([]string{first}, more...), ","); got != want {
				t.Fatalf("events %s, want %s", got, want)
			}
			_, at, conns := f.Snapshot()
			if len(at) != len(evs) || len(conns) != 2 || conns[0].URL != srvA.URL || conns[0].End == nil ||
				conns[1].URL != srvB.URL || conns[1].LastEventID != first || conns[1].First != 1 || conns[1].End != nil {
				t.Fatalf("connections %+v", conns)
			}
			f.Stop()
			if f.Err() != nil {
				t.Fatalf("Err = %v after Stop", f.Err())
			}
		})
	}
}
