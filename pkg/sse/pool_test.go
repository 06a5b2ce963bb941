package sse_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tempstream/tempstream/internal/testharness"
	"github.com/tempstream/tempstream/pkg/sse"
	"github.com/tempstream/tempstream/pkg/sse/ssetest"
)

// poolWait bounds every wait of these tests for something that must happen.
const poolWait = 10 * time.Second

// dial opens a stream on url over a TCP connection of its own, read by the
// test's goroutine (ssetest.Dial): it adds no goroutine to the process.
func dial(t testing.TB, url string, lastEventID string) *ssetest.Stream {
	t.Helper()
	return ssetest.Dial(t, url, ssetest.Options{LastEventID: lastEventID})
}

// withMetrics is opts with metrics registered in a registry of their own.
func withMetrics(opts sse.StreamOptions) (sse.StreamOptions, *prometheus.Registry) {
	reg := prometheus.NewRegistry()
	opts.Metrics = sse.NewMetrics(reg)
	return opts, reg
}

// blockedWrites reads the writes_blocked gauge.
func blockedWrites(t testing.TB, reg *prometheus.Registry) int {
	t.Helper()
	return int(metricValue(t, reg, "tempstream_sse_writes_blocked"))
}

func TestPooledSubscribersHoldNoGoroutine(t *testing.T) {
	const n = 100
	for _, writers := range []int{0, 2} {
		t.Run(fmt.Sprintf("writers=%d", writers), func(t *testing.T) {
			b := sse.NewBroker(sse.StreamOptions{Epoch: "e"}, "s")
			defer b.Close()
			st, _ := b.Stream("s")
			h := &sse.Handler{Broker: b, Writers: writers}
			srv := sse.MustServePooled(t, h)
			warm := dial(t, srv.URL, "") // the writers, if any, run from here on
			sse.MustPublish(t, st, 1)
			warm.MustNext(t, poolWait)
			base := runtime.NumGoroutine()

			subs := make([]*ssetest.Stream, n)
			for i := range subs {
				subs[i] = dial(t, srv.URL, "")
				if ev := subs[i].MustNext(t, poolWait); ev.LastEventID != "e-1" { // the newest, on connect
					t.Fatalf("got %q, want e-1", ev.LastEventID)
				}
			}
			sse.MustPublish(t, st, 1)
			for _, s := range subs {
				if ev := s.MustNext(t, poolWait); ev.LastEventID != "e-2" {
					t.Fatalf("got %q, want e-2", ev.LastEventID)
				}
			}
			if writers == 0 { // the control: a goroutine (or two) per response
				if extra := runtime.NumGoroutine() - base; extra < n {
					t.Fatalf("%d goroutines more for %d subscribers; expected at least one each", extra, n)
				}
				return
			}
			testharness.WaitFor(t, poolWait, "handler goroutines to return", func() bool { return runtime.NumGoroutine()-base < 5 })
			if h.Active() != n+1 {
				t.Fatalf("Active = %d, want %d", h.Active(), n+1)
			}
			sse.MustPublish(t, st, 1) // still served, by the writers alone
			for _, s := range subs {
				if ev := s.MustNext(t, poolWait); ev.LastEventID != "e-3" {
					t.Fatalf("got %q, want e-3", ev.LastEventID)
				}
			}
		})
	}
}

func TestPooledResponseIsChunkedHTTP11(t *testing.T) {
	b := sse.NewBroker(sse.StreamOptions{Epoch: "e"}, "s")
	defer b.Close()
	st, _ := b.Stream("s")
	sse.MustPublish(t, st, 3)
	srv := sse.MustServePooled(t, &sse.Handler{Broker: b, Writers: 1, Retry: 1500 * time.Millisecond})
	s := dial(t, srv.URL, "e-1")
	h := s.Resp.Header
	if te := s.Resp.TransferEncoding; len(te) != 1 || te[0] != "chunked" {
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
		if ev := s.MustNext(t, poolWait); ev.LastEventID != want {
			t.Fatalf("got %q, want %q", ev.LastEventID, want)
		}
	}
	if s.Retry() != 1500*time.Millisecond {
		t.Fatalf("retry %v", s.Retry())
	}
	sse.MustPublish(t, st, 1) // live, from the pool
	if ev := s.MustNext(t, poolWait); ev.LastEventID != "e-4" {
		t.Fatalf("got %q, want e-4", ev.LastEventID)
	}
}

func TestPooledStreamEndsCleanlyWithEveryEvent(t *testing.T) {
	b := sse.NewBroker(sse.StreamOptions{Epoch: "e"}, "s")
	st, _ := b.Stream("s")
	h := &sse.Handler{Broker: b, Writers: 1}
	srv := sse.MustServePooled(t, h)
	s := dial(t, srv.URL, sse.Earliest)
	sse.MustPublish(t, st, 1)
	if ev := s.MustNext(t, poolWait); ev.LastEventID != "e-1" { // handed to the pool
		t.Fatalf("got %q, want e-1", ev.LastEventID)
	}
	sse.MustPublish(t, st, 50)
	b.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := h.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	evs, err := s.Rest(poolWait)
	// io.EOF, not io.ErrUnexpectedEOF: the terminating chunk came.
	if err != io.EOF {
		t.Fatalf("after %d events: %v, want a clean end of the chunked body", len(evs), err)
	}
	for i, ev := range evs {
		if want := fmt.Sprintf("e-%d", i+2); ev.LastEventID != want {
			t.Fatalf("got %q, want %q", ev.LastEventID, want)
		}
	}
	if len(evs) != 50 {
		t.Fatalf("got %d events after the first, want 50", len(evs))
	}
	if h.Active() != 0 {
		t.Fatalf("Active = %d after Shutdown", h.Active())
	}
}

func TestPooledClientThatLeavesFreesItsSlot(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("hang-ups are watched with epoll; elsewhere the next write finds them")
	}
	b := sse.NewBroker(sse.StreamOptions{Epoch: "e"}, "s")
	defer b.Close()
	// No event and no heartbeat for a minute: only the hang-up can tell.
	h := &sse.Handler{Broker: b, Writers: 1, Heartbeat: time.Minute, MaxSubscribers: 1}
	srv := sse.MustServePooled(t, h)
	s := dial(t, srv.URL, "")
	testharness.WaitFor(t, poolWait, "the response to reach the pool", func() bool { return h.Pooled() == 1 })
	s.Close()
	testharness.WaitFor(t, poolWait, "the slot to be freed", func() bool { return h.Active() == 0 })
	dial(t, srv.URL, "") // MaxSubscribers 1: taken again
}

func TestPooledHeartbeat(t *testing.T) {
	opts, reg := withMetrics(sse.StreamOptions{Epoch: "e"})
	b := sse.NewBroker(opts, "s")
	defer b.Close()
	h := &sse.Handler{Broker: b, Writers: 1, Heartbeat: 20 * time.Millisecond}
	srv := sse.MustServePooled(t, h)
	tap := &ssetest.StopAfter{N: 3}
	tap.S = ssetest.Dial(t, srv.URL, ssetest.Options{Tap: tap})
	if ev, err := tap.S.Next(poolWait); err != ssetest.ErrEnough {
		t.Fatalf("got %+v, %v; want 3 heartbeats and nothing else", ev, err)
	}
	seen := 0
	for line := range strings.SplitSeq(tap.Seen.String(), "\n") { // the raw body, comments and all
		if line == ": heartbeat" {
			seen++
		}
	}
	if seen < 3 {
		t.Fatalf("%d heartbeat lines in %q", seen, tap.Seen.String())
	}
	if n := metricValue(t, reg, "tempstream_sse_heartbeats_total", "stream", "s"); n < 3 {
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
			opts, reg := withMetrics(sse.StreamOptions{Epoch: "e", Retention: 4096, QueueLimit: tc.queueLimit})
			b := sse.NewBroker(opts, "s")
			defer b.Close()
			st, _ := b.Stream("s")
			h := &sse.Handler{Broker: b, Writers: 1, WriteTimeout: tc.timeout}
			srv := sse.MustServePooled(t, h)
			stalled := dial(t, srv.URL, "")
			readers := []*ssetest.Stream{dial(t, srv.URL, ""), dial(t, srv.URL, "")}
			testharness.WaitFor(t, poolWait, "three pooled responses", func() bool { return h.Pooled() == 3 })

			data := []byte(strings.Repeat("x", 64<<10))
			publish := func() {
				t.Helper()
				id, err := st.Publish("big", data)
				if err != nil {
					t.Fatal(err)
				}
				for _, r := range readers {
					if ev := r.MustNext(t, poolWait); ev.LastEventID != id {
						t.Fatalf("reader got %q, want %q", ev.LastEventID, id)
					}
				}
			}
			// Fill the stalled client's socket until a write cannot finish.
			for i := 0; ; i++ {
				if blockedWrites(t, reg) > 0 {
					break
				}
				if i == 2000 {
					t.Fatal("no write ever blocked")
				}
				publish()
			}
			if tc.reason == "write" {
				testharness.WaitFor(t, poolWait, "the stalled client to be cut", func() bool { return h.Active() == 2 })
			}
			for i := 0; h.Active() == 3; i++ { // the queue limit: more events
				if i == tc.queueLimit+1 {
					t.Fatal("the stalled subscriber was not evicted at its queue limit")
				}
				publish()
			}
			if got := metricValue(t, reg, "tempstream_sse_slow_subscribers_dropped_total", "stream", "s", "reason", tc.reason); got != 1 {
				t.Fatalf("dropped{reason=%q} = %v, want 1", tc.reason, got)
			}
			id := sse.MustPublish(t, st, 1)[0] // the others are still served
			for _, r := range readers {
				if ev := r.MustNext(t, poolWait); ev.LastEventID != id {
					t.Fatalf("reader got %q, want %q", ev.LastEventID, id)
				}
			}
			// The stalled client finds its stream cut after what it could take.
			if _, err := stalled.Rest(poolWait); err == io.EOF || ssetest.IsTimeout(err) {
				t.Fatalf("stalled client: %v, want its stream cut", err)
			}
		})
	}
}

func TestPooledCloseCutsOpenStreams(t *testing.T) {
	b := sse.NewBroker(sse.StreamOptions{Epoch: "e"}, "s")
	defer b.Close()
	h := &sse.Handler{Broker: b, Writers: 2}
	srv := sse.MustServePooled(t, h)
	s := dial(t, srv.URL, "")
	testharness.WaitFor(t, poolWait, "the response to reach the pool", func() bool { return h.Pooled() == 1 })
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Rest(poolWait); err != io.EOF {
		t.Fatalf("read after Close: %v, want a clean end", err)
	}
	if h.Active() != 0 {
		t.Fatalf("Active = %d", h.Active())
	}
	// After Close, new responses are served by their own goroutine.
	st, _ := b.Stream("s")
	s2 := dial(t, srv.URL, "")
	sse.MustPublish(t, st, 1)
	s2.MustNext(t, poolWait)
}

// TestPooledSeamUnderConcurrentPublishing resumes 40 subscribers over real
// sockets while events are being published, so each is replayed by its
// handler goroutine and handed to the pool mid-stream; after the stream
// closes, each must have read every event after its resume point exactly
// once, in order, and then a clean end.
func TestPooledSeamUnderConcurrentPublishing(t *testing.T) {
	const subs, most = 40, 200_000
	b := sse.NewBroker(sse.StreamOptions{Epoch: "e", Retention: 1 << 18, QueueLimit: 1 << 17}, "s")
	st, _ := b.Stream("s")
	h := &sse.Handler{Broker: b, Writers: 2}
	srv := sse.MustServePooled(t, h)
	sse.MustPublish(t, st, 10)

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
		s := dial(t, srv.URL, sse.FormatID("e", from))
		go func() {
			want := from + 1
			deadline := time.Now().Add(20 * time.Second)
			for {
				ev, err := s.Next(time.Until(deadline))
				if err == io.EOF {
					results <- result{from, want - 1, nil}
					return
				}
				if err != nil {
					results <- result{from, want - 1, fmt.Errorf("at e-%d: %w", want, err)}
					return
				}
				if ev.LastEventID != sse.FormatID("e", want) {
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
	opts, reg := withMetrics(sse.StreamOptions{Epoch: "e", Retention: 4096, QueueLimit: 2048})
	b := sse.NewBroker(opts, "s")
	st, _ := b.Stream("s")
	h := &sse.Handler{Broker: b, Writers: 1, WriteTimeout: time.Minute}
	srv := sse.MustServePooled(t, h)
	dial(t, srv.URL, "") // never read
	testharness.WaitFor(t, poolWait, "the response to reach the pool", func() bool { return h.Pooled() == 1 })
	data := []byte(strings.Repeat("x", 64<<10))
	for i := 0; ; i++ {
		if blockedWrites(t, reg) > 0 {
			break
		}
		if i == 2000 {
			t.Fatal("no write ever blocked")
		}
		if _, err := st.Publish("big", data); err != nil {
			t.Fatal(err)
		}
		testharness.WaitFor(t, poolWait, "the event to be written or the write to block", func() bool {
			return blockedWrites(t, reg) > 0 || metricValue(t, reg, "tempstream_sse_events_delivered_total", "stream", "s") == float64(i+1)
		})
	}
	if got := blockedWrites(t, reg); got != 1 {
		t.Fatalf("writes_blocked = %v, want 1", got)
	}
	b.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := h.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v (the blocked write held it up)", err)
	}
	if got := blockedWrites(t, reg); got != 0 || h.Active() != 0 {
		t.Fatalf("after Shutdown: writes_blocked %v, Active %d", got, h.Active())
	}
}
