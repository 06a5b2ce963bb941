package sse

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

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

// blockedWrites reads the writes_blocked gauge of b's metrics.
func blockedWrites(b *Broker) int { return int(testutil.ToFloat64(b.metrics.blocked)) }

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

func TestPooledSubscribersHoldNoGoroutine(t *testing.T) {
	const n = 100
	for _, writers := range []int{0, 2} {
		t.Run(fmt.Sprintf("writers=%d", writers), func(t *testing.T) {
			b := NewBroker(StreamOptions{Epoch: "e"}, "s")
			defer b.Close()
			st, _ := b.Stream("s")
			h := &Handler{Broker: b, Writers: writers}
			srv := MustServePooled(t, h)
			warm := dialSub(t, srv.URL, nil) // the writers, if any, run from here on
			MustPublish(t, st, 1)
			warm.next(t)
			base := runtime.NumGoroutine()

			subs := make([]*rawSub, n)
			for i := range subs {
				subs[i] = dialSub(t, srv.URL, nil)
				if ev := subs[i].next(t); ev.LastEventID != "e-1" { // the newest, on connect
					t.Fatalf("got %q, want e-1", ev.LastEventID)
				}
			}
			MustPublish(t, st, 1)
			for _, s := range subs {
				if ev := s.next(t); ev.LastEventID != "e-2" {
					t.Fatalf("got %q, want e-2", ev.LastEventID)
				}
			}
			if writers == 0 { // the control: a goroutine (or two) per response
				if extra := runtime.NumGoroutine() - base; extra < n {
					t.Fatalf("%d goroutines more for %d subscribers; expected at least one each", extra, n)
				}
				return
			}
			waitFor(t, "handler goroutines to return", func() bool { return runtime.NumGoroutine()-base < 5 })
			if h.Active() != n+1 {
				t.Fatalf("Active = %d, want %d", h.Active(), n+1)
			}
			MustPublish(t, st, 1) // still served, by the writers alone
			for _, s := range subs {
				if ev := s.next(t); ev.LastEventID != "e-3" {
					t.Fatalf("got %q, want e-3", ev.LastEventID)
				}
			}
		})
	}
}

func TestPooledResponseIsChunkedHTTP11(t *testing.T) {
	b := NewBroker(StreamOptions{Epoch: "e"}, "s")
	defer b.Close()
	st, _ := b.Stream("s")
	MustPublish(t, st, 3)
	srv := MustServePooled(t, &Handler{Broker: b, Writers: 1, Retry: 1500 * time.Millisecond})
	s := dialSub(t, srv.URL, http.Header{"Last-Event-Id": {"e-1"}})
	h := s.resp.Header
	if te := s.resp.TransferEncoding; len(te) != 1 || te[0] != "chunked" {
		t.Fatalf("Transfer-Encoding %v, want chunked", te)
	}
	for k, want := range map[string]string{
		"Content-Type": "text/event-stream; charset=utf-8", "Cache-Control": "no-cache, no-transform",
		"X-Accel-Buffering": "no", "Connection": "keep-alive",
	} {
		if got := h.Get(k); got != want {
			t.Errorf("%s: %q, want %q", k, got, want)
		}
	}
	if _, err := http.ParseTime(h.Get("Date")); err != nil {
		t.Errorf("Date %q: %v", h.Get("Date"), err)
	}
	for _, want := range []string{"e-2", "e-3"} { // the replay
		if ev := s.next(t); ev.LastEventID != want {
			t.Fatalf("got %q, want %q", ev.LastEventID, want)
		}
	}
	if s.r.Retry() != 1500*time.Millisecond {
		t.Fatalf("retry %v", s.r.Retry())
	}
	MustPublish(t, st, 1) // live, from the pool
	if ev := s.next(t); ev.LastEventID != "e-4" {
		t.Fatalf("got %q, want e-4", ev.LastEventID)
	}
}

func TestPooledStreamEndsCleanlyWithEveryEvent(t *testing.T) {
	b := NewBroker(StreamOptions{Epoch: "e"}, "s")
	st, _ := b.Stream("s")
	h := &Handler{Broker: b, Writers: 1}
	srv := MustServePooled(t, h)
	s := dialSub(t, srv.URL, http.Header{"Last-Event-Id": {Earliest}})
	MustPublish(t, st, 1)
	if ev := s.next(t); ev.LastEventID != "e-1" { // handed to the pool
		t.Fatalf("got %q, want e-1", ev.LastEventID)
	}
	MustPublish(t, st, 50)
	b.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := h.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	var got int
	_ = s.c.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		ev, err := s.r.Next()
		if err != nil {
			// io.EOF, not io.ErrUnexpectedEOF: the terminating chunk came.
			if err != io.EOF {
				t.Fatalf("after %d events: %v, want a clean end of the chunked body", got, err)
			}
			break
		}
		if want := fmt.Sprintf("e-%d", got+2); ev.LastEventID != want {
			t.Fatalf("got %q, want %q", ev.LastEventID, want)
		}
		got++
	}
	if got != 50 {
		t.Fatalf("got %d events after the first, want 50", got)
	}
	if h.Active() != 0 {
		t.Fatalf("Active = %d after Shutdown", h.Active())
	}
}

func TestPooledClientThatLeavesFreesItsSlot(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("hang-ups are watched with epoll; elsewhere the next write finds them")
	}
	b := NewBroker(StreamOptions{Epoch: "e"}, "s")
	defer b.Close()
	// No event and no heartbeat for a minute: only the hang-up can tell.
	h := &Handler{Broker: b, Writers: 1, Heartbeat: time.Minute, MaxSubscribers: 1}
	srv := MustServePooled(t, h)
	s := dialSub(t, srv.URL, nil)
	waitFor(t, "the response to reach the pool", func() bool { return h.pooled() == 1 })
	s.c.Close()
	waitFor(t, "the slot to be freed", func() bool { return h.Active() == 0 })
	dialSub(t, srv.URL, nil) // MaxSubscribers 1: taken again
}

func TestPooledHeartbeat(t *testing.T) {
	b := NewBroker(StreamOptions{Epoch: "e"}, "s")
	defer b.Close()
	h := &Handler{Broker: b, Writers: 1, Heartbeat: 20 * time.Millisecond}
	srv := MustServePooled(t, h)
	s := dialSub(t, srv.URL, nil)
	_ = s.c.SetReadDeadline(time.Now().Add(10 * time.Second))
	br := bufio.NewReader(s.resp.Body) // the raw body, comments and all
	for seen := 0; seen < 3; {
		line, err := br.ReadString('\n')
		if err != nil {
			t.Fatalf("after %d heartbeats: %v", seen, err)
		}
		if line == ": heartbeat\n" {
			seen++
		}
	}
	if n := testutil.ToFloat64(b.metrics.heartbeats.WithLabelValues("s")); n < 3 {
		t.Fatalf("heartbeats metric %v", n)
	}
}

// TestPooledStalledReaderIsCut stalls one subscriber (it never reads) among
// readers that keep pace, publishes events of 64 KiB until the server cuts
// the stalled one, and checks the others got every event meanwhile.
func TestPooledStalledReaderIsCut(t *testing.T) {
	for _, tc := range []struct {
		name       string
		timeout    time.Duration
		queueLimit int
		reason     string
	}{
		{"write deadline", 200 * time.Millisecond, 2048, "write"},
		{"queue limit", time.Minute, 4, "queue"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := NewBroker(StreamOptions{Epoch: "e", Retention: 4096, QueueLimit: tc.queueLimit}, "s")
			defer b.Close()
			st, _ := b.Stream("s")
			h := &Handler{Broker: b, Writers: 1, WriteTimeout: tc.timeout}
			srv := MustServePooled(t, h)
			stalled := dialSub(t, srv.URL, nil)
			readers := []*rawSub{dialSub(t, srv.URL, nil), dialSub(t, srv.URL, nil)}
			waitFor(t, "three pooled responses", func() bool { return h.pooled() == 3 })

			data := []byte(strings.Repeat("x", 64<<10))
			publish := func() {
				t.Helper()
				id, err := st.Publish("big", data)
				if err != nil {
					t.Fatal(err)
				}
				for _, r := range readers {
					if ev := r.next(t); ev.LastEventID != id {
						t.Fatalf("reader got %q, want %q", ev.LastEventID, id)
					}
				}
			}
			// Fill the stalled client's socket until a write cannot finish.
			for i := 0; ; i++ {
				if blockedWrites(b) > 0 {
					break
				}
				if i == 2000 {
					t.Fatal("no write ever blocked")
				}
				publish()
			}
			if tc.reason == "write" {
				waitFor(t, "the stalled client to be cut", func() bool { return h.Active() == 2 })
			}
			for i := 0; h.Active() == 3; i++ { // the queue limit: more events
				if i == tc.queueLimit+1 {
					t.Fatal("the stalled subscriber was not evicted at its queue limit")
				}
				publish()
			}
			if got := testutil.ToFloat64(b.metrics.dropped.WithLabelValues("s", tc.reason)); got != 1 {
				t.Fatalf("dropped{reason=%q} = %v, want 1", tc.reason, got)
			}
			id := MustPublish(t, st, 1)[0] // the others are still served
			for _, r := range readers {
				if ev := r.next(t); ev.LastEventID != id {
					t.Fatalf("reader got %q, want %q", ev.LastEventID, id)
				}
			}
			// The stalled client finds its stream cut after what it could take.
			_ = stalled.c.SetReadDeadline(time.Now().Add(10 * time.Second))
			_, err := io.Copy(io.Discard, stalled.resp.Body)
			var ne net.Error
			if err == nil || errors.As(err, &ne) && ne.Timeout() {
				t.Fatalf("stalled client: %v, want its stream cut", err)
			}
		})
	}
}

func TestPooledCloseCutsOpenStreams(t *testing.T) {
	b := NewBroker(StreamOptions{Epoch: "e"}, "s")
	defer b.Close()
	h := &Handler{Broker: b, Writers: 2}
	srv := MustServePooled(t, h)
	s := dialSub(t, srv.URL, nil)
	waitFor(t, "the response to reach the pool", func() bool { return h.pooled() == 1 })
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}
	_ = s.c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.Copy(io.Discard, s.resp.Body); err != nil {
		t.Fatalf("read after Close: %v, want a clean end", err)
	}
	if h.Active() != 0 {
		t.Fatalf("Active = %d", h.Active())
	}
	// After Close, new responses are served by their own goroutine.
	st, _ := b.Stream("s")
	s2 := dialSub(t, srv.URL, nil)
	MustPublish(t, st, 1)
	s2.next(t)
}

// TestPooledSeamUnderConcurrentPublishing resumes 40 subscribers over real
// sockets while events are being published, so each is replayed by its
// handler goroutine and handed to the pool mid-stream; after the stream
// closes, each must have read every event after its resume point exactly
// once, in order, and then a clean end.
func TestPooledSeamUnderConcurrentPublishing(t *testing.T) {
	const subs, most = 40, 200_000
	b := NewBroker(StreamOptions{Epoch: "e", Retention: 1 << 18, QueueLimit: 1 << 17}, "s")
	st, _ := b.Stream("s")
	h := &Handler{Broker: b, Writers: 2}
	srv := MustServePooled(t, h)
	MustPublish(t, st, 10)

	stop, done := make(chan struct{}), make(chan struct{})
	go func() { // publishes until every subscriber has joined
		defer close(done)
		for i := 10; i < most; i++ {
			select {
			case <-stop:
				return
			default:
			}
			if _, err := st.Publish("t", []byte("x")); err != nil {
				t.Error(err)
				return
			}
			if i%10 == 0 {
				runtime.Gosched()
			}
		}
	}()
	type result struct {
		from, got uint64
		err       error
	}
	results := make(chan result, subs)
	var first, last uint64
	for k := range subs {
		from := max(st.Head()-uint64(k%7), 1)
		if k == 0 {
			first = from
		}
		last = from
		s := dialSub(t, srv.URL, http.Header{"Last-Event-Id": {FormatID("e", from)}})
		go func() {
			want := from + 1
			_ = s.c.SetReadDeadline(time.Now().Add(20 * time.Second))
			for {
				ev, err := s.r.Next()
				if err == io.EOF {
					results <- result{from, want - 1, nil}
					return
				}
				if err != nil {
					results <- result{from, want - 1, fmt.Errorf("at e-%d: %w", want, err)}
					return
				}
				if ev.LastEventID != FormatID("e", want) {
					results <- result{from, want - 1, fmt.Errorf("got %s, want e-%d", ev.LastEventID, want)}
					return
				}
				want++
			}
		}()
	}
	close(stop)
	<-done
	head := st.Head()
	if head == most || last >= head {
		t.Fatalf("publishing did not overlap the joins: head %d, last join after e-%d", head, last)
	}
	b.Close() // each response ends after its last event
	for range subs {
		r := <-results
		if r.err == nil && r.got != head {
			r.err = fmt.Errorf("clean end after e-%d, want e-%d", r.got, head)
		}
		if r.err != nil {
			t.Errorf("subscriber resuming after e-%d: %v", r.from, r.err)
		}
	}
	t.Logf("%d subscribers resumed after e-%d … e-%d; %d events published", subs, first, last, head)
}

// TestPooledShutdownCutsStalledWrites: a client that stopped reading, with a
// write blocked on its full socket and a write timeout of a minute, does not
// hold up Shutdown: after a short grace its write is cut.
func TestPooledShutdownCutsStalledWrites(t *testing.T) {
	b := NewBroker(StreamOptions{Epoch: "e", Retention: 4096, QueueLimit: 2048}, "s")
	st, _ := b.Stream("s")
	h := &Handler{Broker: b, Writers: 1, WriteTimeout: time.Minute}
	srv := MustServePooled(t, h)
	dialSub(t, srv.URL, nil) // never read
	waitFor(t, "the response to reach the pool", func() bool { return h.pooled() == 1 })
	data := []byte(strings.Repeat("x", 64<<10))
	for i := 0; ; i++ {
		if blockedWrites(b) > 0 {
			break
		}
		if i == 2000 {
			t.Fatal("no write ever blocked")
		}
		if _, err := st.Publish("big", data); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "the event to be written or the write to block", func() bool {
			return blockedWrites(b) > 0 || testutil.ToFloat64(b.metrics.delivered.WithLabelValues("s")) == float64(i+1)
		})
	}
	if got := testutil.ToFloat64(b.metrics.blocked); got != 1 {
		t.Fatalf("writes_blocked = %v, want 1", got)
	}
	b.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := h.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v (the blocked write held it up)", err)
	}
	if got := testutil.ToFloat64(b.metrics.blocked); got != 0 || h.Active() != 0 {
		t.Fatalf("after Shutdown: writes_blocked %v, Active %d", got, h.Active())
	}
}
