//go:build unix

package sse_test

// This file runs github.com/r3labs/sse/v2 (v2.10.0, the library the project
// was first specified with) and this engine side by side on the same
// scenarios. Each TestCompare* test has a subtest "r3labs" that asserts one of
// the library's server defects (with its default settings: r3sse.New,
// CreateStream, Publish, the server as an http.Handler) and a subtest
// "tempstream" that asserts what this engine does instead. Both are served by
// httptest on loopback and read as a browser would, with the spec-exact
// Reader of parse.go (through pkg/sse/ssetest).

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	r3sse "github.com/r3labs/sse/v2"

	"github.com/tempstream/tempstream/internal/testlog"
	"github.com/tempstream/tempstream/pkg/sse"
	"github.com/tempstream/tempstream/pkg/sse/ssetest"
)

// cmpWait bounds every wait for something that must happen.
const cmpWait = 5 * time.Second

// newR3 starts an r3labs server with its defaults and one stream, "s", served
// on loopback. Cleanups run in reverse order of registration: the clients a
// test opens later leave first, then the HTTP server waits for its handlers
// (each ends once its client left and it deregistered), then the r3labs
// server stops the stream's goroutine, with no subscriber left that could
// leak (see TestCompareCloseWithClientsConnected).
func newR3(t *testing.T) (*r3sse.Server, *r3sse.Stream, *httptest.Server) {
	t.Helper()
	s := r3sse.New()
	t.Cleanup(s.Close)
	str := s.CreateStream("s")
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	return s, str, srv
}

// newOurs starts a broker with one stream, "s", served by h (a zero Handler
// when nil) on loopback.
func newOurs(t *testing.T, opts sse.StreamOptions, h *sse.Handler) (*sse.Stream, *httptest.Server) {
	t.Helper()
	b := sse.NewBroker(opts, "s")
	t.Cleanup(b.Close)
	if h == nil {
		h = &sse.Handler{}
	}
	h.Broker = b
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	st, _ := b.Stream("s")
	return st, srv
}

// dialSSE GETs srv's path with srv's client (ssetest.Open), with a
// Last-Event-ID header unless lastEventID is empty, and waits for the
// response head. An answer that is not an event stream is returned too
// (Resp.StatusCode, Text). The response ends with the test.
func dialSSE(t *testing.T, srv *httptest.Server, path, lastEventID string) *ssetest.Stream {
	t.Helper()
	return ssetest.Open(t, srv.URL+path, ssetest.Options{Client: srv.Client(), LastEventID: lastEventID, Timeout: cmpWait, AnyStatus: true})
}

// dialStalled opens a raw TCP connection with a 4 KiB receive buffer, sends
// a GET for stream "s", reads the response head and then never reads
// again: a subscriber that stalls (a frozen tab, a dead mobile link).
func dialStalled(t *testing.T, srv *httptest.Server) *ssetest.Stream {
	t.Helper()
	s := ssetest.Dial(t, srv.URL+"/?stream=s", ssetest.Options{RecvBuffer: 4096, Timeout: cmpWait})
	if !strings.HasPrefix(s.Head(), "HTTP/1.1 200 ") {
		t.Fatalf("stalled client got %q", s.Head())
	}
	return s
}

// flood publishes from a goroutine and reports progress after every call.
type flood struct {
	published atomic.Int64 // Publish calls that returned
	stop      atomic.Bool
	progress  chan struct{} // one slot, poked after every call
	done      chan struct{}
}

func startFlood(n int, publish func(i int)) *flood {
	f := &flood{progress: make(chan struct{}, 1), done: make(chan struct{})}
	go func() {
		defer close(f.done)
		for i := 0; i < n && !f.stop.Load(); i++ {
			publish(i)
			f.published.Add(1)
			select {
			case f.progress <- struct{}{}:
			default:
			}
		}
	}()
	return f
}

// stalls watches the flood to its end: it returns false when every call
// returned, true as soon as one call has not returned within stall.
func (f *flood) stalls(stall time.Duration) bool {
	timer := time.NewTimer(stall)
	defer timer.Stop()
	for {
		select {
		case <-f.done:
			return false
		case <-f.progress:
			timer.Reset(stall)
		case <-timer.C:
			return true
		}
	}
}

// TestCompareEventIDs: r3labs (AutoReplay, on by default) replaces the
// publisher's event IDs with its own counter, "0", "1", "2" (overwriting the
// caller's Event.ID), and replays the whole history to a client that connects
// without Last-Event-ID. Ours assigns "<epoch>-<seq>" and starts a new client
// at the newest event.
func TestCompareEventIDs(t *testing.T) {
	t.Run("r3labs", func(t *testing.T) {
		s, _, srv := newR3(t)
		first := dialSSE(t, srv, "/?stream=s", "")
		evs := make([]*r3sse.Event, 3)
		for i := range evs {
			evs[i] = &r3sse.Event{ID: fmt.Appendf(nil, "sensor-a-%d", 17+i), Data: fmt.Appendf(nil, "reading %d", i)}
			s.Publish("s", evs[i])
		}
		var live []string
		for i := range evs {
			ev := first.MustNext(t, cmpWait)
			if want := fmt.Sprintf("reading %d", i); string(ev.Data) != want {
				t.Fatalf("live event %d: data %q, want %q", i, ev.Data, want)
			}
			live = append(live, ev.LastEventID)
		}
		if !slices.Equal(live, []string{"0", "1", "2"}) {
			t.Fatalf("r3labs sent IDs %q for sensor-a-17..19; the defect is gone", live)
		}
		if string(evs[0].ID) != "0" {
			t.Fatalf("caller's Event.ID = %q, want it overwritten with \"0\"", evs[0].ID)
		}
		// Every event is in the log now (a subscriber got each after it was
		// logged): a new client without Last-Event-ID gets the whole history.
		fresh := dialSSE(t, srv, "/?stream=s", "")
		var replayed []string
		for i := range evs {
			ev := fresh.MustNext(t, cmpWait)
			if want := fmt.Sprintf("reading %d", i); string(ev.Data) != want {
				t.Fatalf("replayed event %d: data %q, want %q", i, ev.Data, want)
			}
			replayed = append(replayed, ev.LastEventID)
		}
		if !slices.Equal(replayed, []string{"0", "1", "2"}) {
			t.Fatalf("new client got IDs %q, want the whole history 0,1,2", replayed)
		}
		t.Logf("r3labs: IDs sensor-a-17..19 sent as %q; a new client without Last-Event-ID was replayed %q", live, replayed)
	})

	t.Run("tempstream", func(t *testing.T) {
		epoch := sse.NewEpoch(time.Now())
		st, srv := newOurs(t, sse.StreamOptions{Epoch: epoch}, nil)
		first := dialSSE(t, srv, "/?stream=s", "")
		var ids []string
		for i := range 3 {
			id, err := st.Publish("", fmt.Appendf(nil, "reading %d", i))
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, id)
		}
		want := []string{sse.FormatID(epoch, 1), sse.FormatID(epoch, 2), sse.FormatID(epoch, 3)}
		if !slices.Equal(ids, want) {
			t.Fatalf("Publish returned IDs %q, want %q", ids, want)
		}
		for i := range ids {
			if ev := first.MustNext(t, cmpWait); ev.LastEventID != ids[i] || string(ev.Data) != fmt.Sprintf("reading %d", i) {
				t.Fatalf("live event %d: %+v, want ID %s", i, ev, ids[i])
			}
		}
		fresh := dialSSE(t, srv, "/?stream=s", "")
		if ev := fresh.MustNext(t, cmpWait); ev.LastEventID != ids[2] {
			t.Fatalf("new client's first event has ID %q, want the newest, %s", ev.LastEventID, ids[2])
		}
		id4, err := st.Publish("", []byte("reading 3"))
		if err != nil {
			t.Fatal(err)
		}
		if ev := fresh.MustNext(t, cmpWait); ev.LastEventID != id4 {
			t.Fatalf("new client's second event has ID %q, want %s (no history before the newest)", ev.LastEventID, id4)
		}
	})
}

// TestCompareResumeAfterRestart: r3labs' IDs restart at "0" with the
// process, so a client resuming with an ID of the old process silently skips
// events of the new one. Ours has another epoch after a restart and answers
// such an ID with a reset event, then every retained event.
func TestCompareResumeAfterRestart(t *testing.T) {
	t.Run("r3labs", func(t *testing.T) {
		old, _, oldSrv := newR3(t)
		c := dialSSE(t, oldSrv, "/?stream=s", "")
		for i := range 3 {
			old.Publish("s", &r3sse.Event{Data: fmt.Appendf(nil, "old %d", i)})
		}
		var last string
		for range 3 {
			last = c.MustNext(t, cmpWait).LastEventID
		}
		restarted, _, newSrv := newR3(t)
		witness := dialSSE(t, newSrv, "/?stream=s", "")
		for i := range 5 {
			restarted.Publish("s", &r3sse.Event{Data: fmt.Appendf(nil, "new %d", i)})
		}
		for range 5 {
			witness.MustNext(t, cmpWait) // all five are in the log
		}
		resumed := dialSSE(t, newSrv, "/?stream=s", last)
		ev := resumed.MustNext(t, cmpWait)
		if ev.Type != "message" || string(ev.Data) != "new 2" || ev.LastEventID != "2" {
			t.Fatalf("resume with %q after a restart: first event %+v, want new 2 with ID 2 (new 0 and new 1 silently skipped)", last, ev)
		}
		t.Logf("r3labs: resume with old ID %q after a restart: first event %q (ID %s), no reset: \"new 0\", \"new 1\" skipped", last, ev.Data, ev.LastEventID)
	})

	t.Run("tempstream", func(t *testing.T) {
		t0 := time.Now()
		oldSt, oldSrv := newOurs(t, sse.StreamOptions{Epoch: sse.NewEpoch(t0)}, nil)
		c := dialSSE(t, oldSrv, "/?stream=s", "")
		sse.MustPublish(t, oldSt, 3)
		var last string
		for range 3 {
			last = c.MustNext(t, cmpWait).LastEventID
		}
		newEpoch := sse.NewEpoch(t0.Add(time.Second))
		newSt, newSrv := newOurs(t, sse.StreamOptions{Epoch: newEpoch}, nil)
		ids := sse.MustPublish(t, newSt, 5)
		resumed := dialSSE(t, newSrv, "/?stream=s", last)
		ev := resumed.MustNext(t, cmpWait)
		var info sse.ResetInfo
		if ev.Type != "reset" || json.Unmarshal(ev.Data, &info) != nil || info.Reason != sse.ResetUnknown || info.OldestID != ids[0] {
			t.Fatalf("resume with %q after a restart: first event %+v, want a reset (unknown, oldest %s)", last, ev, ids[0])
		}
		for _, id := range ids {
			if ev := resumed.MustNext(t, cmpWait); ev.LastEventID != id {
				t.Fatalf("after the reset got %+v, want %s", ev, id)
			}
		}
	})
}

// TestCompareNonIntegerLastEventID: r3labs answers a Last-Event-ID that is
// not an integer with 400, which ends a browser's EventSource for good. Ours
// answers 200, a reset event, then the retained events.
func TestCompareNonIntegerLastEventID(t *testing.T) {
	const resume = "sensor-a-17"
	t.Run("r3labs", func(t *testing.T) {
		s, _, srv := newR3(t)
		for i := range 3 {
			s.Publish("s", &r3sse.Event{Data: fmt.Appendf(nil, "%d", i)})
		}
		c := dialSSE(t, srv, "/?stream=s", resume)
		if c.Resp.StatusCode != http.StatusBadRequest {
			t.Fatalf("r3labs answered Last-Event-ID %q with %d, want 400", resume, c.Resp.StatusCode)
		}
		t.Logf("r3labs: Last-Event-ID %q answered %d %q", resume, c.Resp.StatusCode, strings.TrimSpace(c.Text))
	})

	t.Run("tempstream", func(t *testing.T) {
		st, srv := newOurs(t, sse.StreamOptions{Epoch: sse.NewEpoch(time.Now())}, nil)
		ids := sse.MustPublish(t, st, 3)
		c := dialSSE(t, srv, "/?stream=s", resume)
		if c.Resp.StatusCode != http.StatusOK {
			t.Fatalf("status %d %q, want 200", c.Resp.StatusCode, c.Text)
		}
		ev := c.MustNext(t, cmpWait)
		var info sse.ResetInfo
		if ev.Type != "reset" || json.Unmarshal(ev.Data, &info) != nil ||
			info != (sse.ResetInfo{Reason: sse.ResetUnknown, LastEventID: resume, OldestID: ids[0]}) {
			t.Fatalf("first event %+v, want a reset (unknown)", ev)
		}
		for _, id := range ids {
			if ev := c.MustNext(t, cmpWait); ev.LastEventID != id {
				t.Fatalf("got %+v, want %s", ev, id)
			}
		}
	})
}

// TestCompareResumeIsExclusive: a client that got the first two of five
// events reconnects with the second's ID. r3labs replays from that ID
// inclusive, so the second comes again; ours starts at the third.
func TestCompareResumeIsExclusive(t *testing.T) {
	t.Run("r3labs", func(t *testing.T) {
		s, _, srv := newR3(t)
		first := dialSSE(t, srv, "/?stream=s", "")
		for i := range 5 {
			s.Publish("s", &r3sse.Event{Data: fmt.Appendf(nil, "event %d", i+1)})
		}
		first.MustNext(t, cmpWait)
		second := first.MustNext(t, cmpWait)
		resumed := dialSSE(t, srv, "/?stream=s", second.LastEventID)
		var got []string
		for range 4 {
			ev := resumed.MustNext(t, cmpWait)
			got = append(got, ev.LastEventID+"="+string(ev.Data))
		}
		want := []string{"1=event 2", "2=event 3", "3=event 4", "4=event 5"}
		if !slices.Equal(got, want) {
			t.Fatalf("resume with %q: got %q, want %q (event 2 again)", second.LastEventID, got, want)
		}
		t.Logf("r3labs: resume with Last-Event-ID %q (event 2) replayed %q", second.LastEventID, got)
	})

	t.Run("tempstream", func(t *testing.T) {
		st, srv := newOurs(t, sse.StreamOptions{Epoch: sse.NewEpoch(time.Now())}, nil)
		first := dialSSE(t, srv, "/?stream=s", "")
		ids := sse.MustPublish(t, st, 5)
		first.MustNext(t, cmpWait)
		second := first.MustNext(t, cmpWait)
		if second.LastEventID != ids[1] {
			t.Fatalf("second event %+v, want %s", second, ids[1])
		}
		resumed := dialSSE(t, srv, "/?stream=s", second.LastEventID)
		for _, id := range ids[2:] {
			if ev := resumed.MustNext(t, cmpWait); ev.LastEventID != id {
				t.Fatalf("resume with %s: got %+v, want %s", second.LastEventID, ev, id)
			}
		}
	})
}

// TestCompareStalledSubscriber: one client that stops reading. r3labs' stream
// goroutine blocks on that client's channel, so the other subscribers get
// nothing more and, once the stream's 1024-event buffer is full, Publish
// blocks until the stalled client leaves. Ours never blocks Publish: the
// stalled subscriber is evicted (its backlog passed the queue limit, and
// eviction forces its write deadline) while a normal client keeps up to the
// newest event.
func TestCompareStalledSubscriber(t *testing.T) {
	const (
		maxEvents = 20000
		stall     = 2 * time.Second
	)
	payload := bytes.Repeat([]byte("x"), 1024)

	t.Run("r3labs", func(t *testing.T) {
		s, _, srv := newR3(t)
		var f *flood
		stalled := dialStalled(t, srv)
		t.Cleanup(func() { // before the clients and servers: unblock the publisher
			stalled.Close()
			if f != nil {
				f.stop.Store(true)
				<-f.done
			}
		})
		normal := dialSSE(t, srv, "/?stream=s", "").Record(t)
		f = startFlood(maxEvents, func(int) { s.Publish("s", &r3sse.Event{Data: payload}) })
		if !f.stalls(stall) {
			t.Fatalf("all %d publishes returned within %v of each other: r3labs did not block", maxEvents, stall)
		}
		blockedAt := f.published.Load()
		evs, _, _ := normal.Snapshot()
		got := int64(len(evs))
		// The stream goroutine is stuck on event k for the stalled client,
		// with k+1 ... k+1024 in its buffer: the normal client has at most k.
		if got > blockedAt-r3sse.DefaultBufferSize {
			t.Fatalf("normal client got %d events of %d published: the stream was not frozen", got, blockedAt)
		}
		f.stop.Store(true)
		closed := time.Now()
		stalled.Close()
		select {
		case <-f.done:
		case <-time.After(cmpWait):
			t.Fatalf("Publish still blocked %v after the stalled client left", cmpWait)
		}
		t.Logf("r3labs: Publish blocked (> %v) after %d events of 1 KiB; the normal client had %d of them; Publish returned %v after the stalled client closed its connection",
			stall, blockedAt, got, time.Since(closed).Round(time.Millisecond))
	})

	t.Run("tempstream", func(t *testing.T) {
		reg := prometheus.NewRegistry()
		logs := testlog.New()
		h := &sse.Handler{WriteTimeout: cmpWait, Logger: slog.New(slog.NewJSONHandler(logs, nil))}
		st, srv := newOurs(t, sse.StreamOptions{Epoch: sse.NewEpoch(time.Now()), Retention: 4096, QueueLimit: 1024, Metrics: sse.NewMetrics(reg)}, h)
		var f *flood
		stalled := dialStalled(t, srv)
		t.Cleanup(func() {
			stalled.Close()
			if f != nil {
				f.stop.Store(true)
				<-f.done
			}
		})
		normal := follow(t, srv)
		var (
			lastID string
			pubErr error
		)
		start := time.Now()
		f = startFlood(maxEvents, func(int) {
			id, err := st.Publish("t", payload)
			if err != nil && pubErr == nil {
				pubErr = err
			}
			lastID = id
		})
		if f.stalls(stall) {
			t.Fatalf("a Publish call did not return within %v, after %d events", stall, f.published.Load())
		}
		took := time.Since(start)
		if n := f.published.Load(); n != maxEvents || pubErr != nil {
			t.Fatalf("published %d of %d, error %v", n, maxEvents, pubErr)
		}
		remote := stalled.Local()
		// "too slow" is what the handler logs for an evicted subscriber.
		if reason := logs.WaitClosed(t, cmpWait, remote).Str("reason"); reason != "too slow" {
			t.Fatalf("stalled subscriber's response closed with %q, want %q", reason, "too slow")
		}
		if v := metricValue(t, reg, "tempstream_sse_slow_subscribers_dropped_total", "stream", "s", "reason", "queue"); v < 1 {
			t.Fatalf("slow_subscribers_dropped_total{reason=queue} = %v, want >= 1", v)
		}
		events, reconnects := reached(t, normal, lastID)
		t.Logf("tempstream: %d publishes of 1 KiB in %v, none blocked; stalled subscriber evicted; normal client reached the newest event %s (%d events, %d reconnects with Last-Event-ID)",
			maxEvents, took.Round(time.Millisecond), lastID, events, reconnects)
	})
}

// follow reads stream "s" the way a browser's EventSource does
// (ssetest.Follower): when a response ends it reconnects at once, with
// Last-Event-ID. It returns once the first response head came.
func follow(t *testing.T, srv *httptest.Server) *ssetest.Follower {
	t.Helper()
	return ssetest.Follow(t, ssetest.Open(t, srv.URL+"/?stream=s", ssetest.Options{Client: srv.Client(), Timeout: cmpWait}), ssetest.FollowOptions{})
}

// reached waits until the follower has read the event id (reset events
// aside) and returns how many events it read and how often it reconnected.
func reached(t *testing.T, fl *ssetest.Follower, id string) (events, reconnects int) {
	t.Helper()
	var last string
	fl.Wait(t, 2*cmpWait, "the follower reaching the newest event "+id, func(evs []sse.Received) bool {
		events, last = 0, ""
		for _, ev := range evs {
			if ev.Type != "reset" {
				events, last = events+1, ev.LastEventID
			}
		}
		return last == id
	})
	_, _, conns := fl.Snapshot()
	return events, len(conns) - 1
}

// TestCompareEventLogGrowth: r3labs' replay log (AutoReplay is on by
// default) keeps every event ever published, and a new client is sent all of
// them. Ours keeps exactly Retention events.
func TestCompareEventLogGrowth(t *testing.T) {
	const n = 10000
	t.Run("r3labs", func(t *testing.T) {
		s, str, srv := newR3(t)
		for i := range n {
			s.Publish("s", &r3sse.Event{Data: fmt.Appendf(nil, "%d", i)})
		}
		// The log is written by the stream's goroutine: read its length only
		// once a client has been sent the last event, which comes after it.
		c := dialSSE(t, srv, "/?stream=s", "")
		got := 0
		for ev := c.MustNext(t, cmpWait); ; ev = c.MustNext(t, cmpWait) {
			got++
			if ev.LastEventID == fmt.Sprint(n-1) {
				break
			}
		}
		if got != n {
			t.Fatalf("new client got %d events before ID %d, want the whole history, %d", got, n-1, n)
		}
		if len(str.Eventlog) != n {
			t.Fatalf("len(Eventlog) = %d after %d publishes, want %d (unbounded)", len(str.Eventlog), n, n)
		}
		t.Logf("r3labs: after %d publishes len(Eventlog) = %d, and a new client without Last-Event-ID was sent all %d", n, len(str.Eventlog), got)
	})

	t.Run("tempstream", func(t *testing.T) {
		st, srv := newOurs(t, sse.StreamOptions{Epoch: sse.NewEpoch(time.Now())}, nil)
		ids := sse.MustPublish(t, st, n)
		if items, _ := st.Since(sse.Earliest, nil, n); len(items) != sse.DefaultRetention {
			t.Fatalf("the stream retains %d events after %d publishes, want %d", len(items), n, sse.DefaultRetention)
		}
		// A new client asking for every retained event gets exactly those.
		c := dialSSE(t, srv, "/?stream=s", sse.Earliest)
		if evs := c.Until(t, ids[n-1], cmpWait); len(evs) != sse.DefaultRetention || evs[0].LastEventID != ids[n-sse.DefaultRetention] {
			t.Fatalf("a client resuming from earliest got %d events from %s, want the %d retained, from %s", len(evs), evs[0].LastEventID, sse.DefaultRetention, ids[n-sse.DefaultRetention])
		}
	})
}

// TestCompareDataWithNewline: r3labs (SplitData off by default) writes data
// as one "data:" line, so a newline in it lets the rest be read as fields:
// "a\nevent: evil" arrives as an event of type "evil" with data "a". Data
// starting with ':' is written as a comment, and the event is lost. Ours
// writes one "data:" line per line and the data arrives intact.
func TestCompareDataWithNewline(t *testing.T) {
	const evil, colon = "a\nevent: evil", ":secret"
	t.Run("r3labs", func(t *testing.T) {
		s, _, srv := newR3(t)
		var raw bytes.Buffer // the body as received
		c := ssetest.Open(t, srv.URL+"/?stream=s", ssetest.Options{Client: srv.Client(), Timeout: cmpWait, Tap: &raw})
		s.Publish("s", &r3sse.Event{Data: []byte(evil)})
		s.Publish("s", &r3sse.Event{Data: []byte(colon)})
		s.Publish("s", &r3sse.Event{Data: []byte("after")})
		ev := c.MustNext(t, cmpWait)
		if ev.Type != "evil" || string(ev.Data) != "a" {
			t.Fatalf("data %q arrived as %+v: the framing held", evil, ev)
		}
		if ev := c.MustNext(t, cmpWait); string(ev.Data) != "after" || ev.LastEventID != "2" {
			t.Fatalf("after %q got %+v, want the event after it (ID 2): %q was not lost", colon, ev, colon)
		}
		if !strings.Contains(raw.String(), "data: a\nevent: evil\n") || !strings.Contains(raw.String(), "id: 1\n:secret\n\n") {
			t.Fatalf("wire: %q", raw.String())
		}
		t.Logf("r3labs: wire %q: dispatched as type %q data %q; %q was dropped as a comment", raw.String(), ev.Type, ev.Data, colon)
	})

	t.Run("tempstream", func(t *testing.T) {
		st, srv := newOurs(t, sse.StreamOptions{Epoch: sse.NewEpoch(time.Now())}, nil)
		var raw bytes.Buffer
		c := ssetest.Open(t, srv.URL+"/?stream=s", ssetest.Options{Client: srv.Client(), Timeout: cmpWait, Tap: &raw})
		for _, data := range []string{evil, colon} {
			if _, err := st.Publish("", []byte(data)); err != nil {
				t.Fatal(err)
			}
		}
		for _, data := range []string{evil, colon} {
			if ev := c.MustNext(t, cmpWait); ev.Type != "message" || string(ev.Data) != data {
				t.Fatalf("got %+v, want a message with data %q", ev, data)
			}
		}
		if !strings.Contains(raw.String(), "data: a\ndata: event: evil\n\n") || !strings.Contains(raw.String(), "data: :secret\n\n") {
			t.Fatalf("wire: %q", raw.String())
		}
	})
}

// r3BlockedClosers counts goroutines blocked in r3labs' Subscriber.close on
// a channel send: the deregistration of a subscriber to a stream whose
// goroutine has ended, which nothing will ever receive.
func r3BlockedClosers() int {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	count := 0
	for g := range bytes.SplitSeq(buf, []byte("\n\n")) {
		if bytes.Contains(g, []byte("[chan send")) && bytes.Contains(g, []byte("github.com/r3labs/sse/v2.(*Subscriber).close(")) {
			count++
		}
	}
	return count
}

// TestCompareCloseWithClientsConnected: r3labs' RemoveStream and Close end
// the responses but leave one goroutine per connected client blocked for good
// (main_test.go tells goleak to ignore exactly that function, citing this
// test). Ours ends every response and leaves nothing behind (goleak checks).
func TestCompareCloseWithClientsConnected(t *testing.T) {
	t.Run("r3labs", func(t *testing.T) {
		s := r3sse.New()
		s.CreateStream("a")
		s.CreateStream("b")
		srv := httptest.NewServer(s)
		t.Cleanup(srv.Close)
		before := r3BlockedClosers()
		clients := []*ssetest.Recorder{
			dialSSE(t, srv, "/?stream=a", "").Record(t),
			dialSSE(t, srv, "/?stream=a", "").Record(t),
			dialSSE(t, srv, "/?stream=b", "").Record(t),
		}
		s.RemoveStream("a")
		s.Close()
		for _, c := range clients {
			if err, _ := c.End(t, cmpWait); err != io.EOF {
				t.Fatalf("response ended with %v, want EOF", err)
			}
		}
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		deadline := time.After(cmpWait)
		for r3BlockedClosers()-before != len(clients) {
			select {
			case <-tick.C:
			case <-deadline:
				t.Fatalf("%d goroutines blocked in Subscriber.close, want %d", r3BlockedClosers()-before, len(clients))
			}
		}
		srv.Close() // every handler has returned
		if n := r3BlockedClosers() - before; n != len(clients) {
			t.Fatalf("after the server closed: %d goroutines blocked in Subscriber.close, want %d", n, len(clients))
		}
		t.Logf("r3labs: RemoveStream + Close with %d clients connected left %d goroutines blocked in (*Subscriber).close", len(clients), len(clients))
	})

	t.Run("tempstream", func(t *testing.T) {
		b := sse.NewBroker(sse.StreamOptions{}, "a", "b")
		h := &sse.Handler{Broker: b}
		srv := httptest.NewServer(h)
		t.Cleanup(srv.Close)
		clients := []*ssetest.Recorder{
			dialSSE(t, srv, "/?stream=a", "").Record(t),
			dialSSE(t, srv, "/?stream=a", "").Record(t),
			dialSSE(t, srv, "/?stream=b", "").Record(t),
		}
		b.Close()
		for _, c := range clients {
			// Close ends every response cleanly (final chunk included), so
			// the client sees the end of the stream and reconnects.
			if err, _ := c.End(t, cmpWait); err != io.EOF {
				t.Fatalf("response ended with %v, want a clean end (io.EOF)", err)
			}
		}
		if n := h.Active(); n != 0 {
			t.Fatalf("%d responses still active", n)
		}
	})
}
