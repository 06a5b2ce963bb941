package main

import (
	"context"
	"errors"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	r3sse "github.com/r3labs/sse/v2"
	"gopkg.in/cenkalti/backoff.v1"

	"github.com/tempstream/tempstream/pkg/sse"
)

// r3Client is github.com/r3labs/sse/v2's client, an independent
// implementation, wired so that it cannot outlive the test:
//   - its reconnect loop does not watch the subscription's context, so the
//     backoff is wrapped with backoff.WithContext: once ctx is done it stops;
//   - it uses its own http.Transport (not http.DefaultTransport), whose idle
//     connections are closed at the end, and whose connections the test can
//     break to make the client reconnect.
type r3Client struct {
	c      *r3sse.Client
	tr     *http.Transport
	cancel context.CancelFunc
	done   chan error // Subscribe's result

	mu    sync.Mutex
	conns []net.Conn
	evs   []*r3sse.Event // temperature events only
	more  chan struct{}  // closed and replaced on every event
}

func newR3Client(t *testing.T, url string) *r3Client {
	rc := &r3Client{done: make(chan error, 1), more: make(chan struct{})}
	dialer := &net.Dialer{Timeout: 5 * time.Second}
	rc.tr = &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			conn, err := dialer.DialContext(ctx, network, addr)
			if err == nil {
				rc.mu.Lock()
				rc.conns = append(rc.conns, conn)
				rc.mu.Unlock()
			}
			return conn, err
		},
	}
	rc.c = r3sse.NewClient(url)
	rc.c.Connection = &http.Client{Transport: rc.tr}
	ctx, cancel := context.WithCancel(context.Background())
	rc.cancel = cancel
	rc.c.ReconnectStrategy = backoff.WithContext(backoff.NewConstantBackOff(50*time.Millisecond), ctx)

	go func() {
		rc.done <- rc.c.SubscribeRawWithContext(ctx, func(msg *r3sse.Event) {
			if string(msg.Event) != "temperature" {
				return // the retry field arrives as an event of its own
			}
			rc.mu.Lock()
			rc.evs = append(rc.evs, msg)
			close(rc.more)
			rc.more = make(chan struct{})
			rc.mu.Unlock()
		})
	}()
	t.Cleanup(func() { rc.stop(t) })
	return rc
}

// stop cancels the subscription and waits for the client's goroutines.
func (rc *r3Client) stop(t *testing.T) {
	rc.cancel()
	select {
	case err := <-rc.done:
		if err != nil && !errors.Is(err, context.Canceled) {
			t.Logf("r3labs Subscribe returned %v", err)
		}
		rc.done <- err // stop may run twice
	case <-time.After(5 * time.Second):
		t.Errorf("r3labs client did not return within 5s of cancel")
	}
	rc.tr.CloseIdleConnections()
}

// waitEvents waits until the client has n temperature events and returns them.
func (rc *r3Client) waitEvents(t *testing.T, timeout time.Duration, n int) []*r3sse.Event {
	t.Helper()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for {
		rc.mu.Lock()
		evs, more := rc.evs[:len(rc.evs):len(rc.evs)], rc.more
		rc.mu.Unlock()
		if len(evs) >= n {
			return evs
		}
		select {
		case <-more:
		case err := <-rc.done:
			rc.done <- err
			t.Fatalf("r3labs client returned after %d events: %v", len(evs), err)
		case <-timer.C:
			t.Fatalf("r3labs client: %d temperature events within %v, want %d", len(evs), timeout, n)
		}
	}
}

// breakConn closes the client's newest connection under it, as a network
// failure would: the client reconnects by itself.
func (rc *r3Client) breakConn(t *testing.T) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if len(rc.conns) == 0 {
		t.Fatal("r3labs client has no connection")
	}
	_ = rc.conns[len(rc.conns)-1].Close()
}

// asReceived converts r3labs events to the form of sse.Reader's.
func asReceived(evs []*r3sse.Event) []sse.Received {
	out := make([]sse.Received, len(evs))
	for i, e := range evs {
		out[i] = sse.Received{LastEventID: string(e.ID), Type: string(e.Event), Data: e.Data}
	}
	return out
}

// TestR3labsClient: an independent SSE client gets temperature readings with
// increasing IDs.
func TestR3labsClient(t *testing.T) {
	t.Parallel()
	ts := startServer(t, "--interval", "20ms")
	rc := newR3Client(t, ts.url+"/events")
	evs := asReceived(rc.waitEvents(t, 5*time.Second, 3))
	checkConsecutive(t, "r3labs client", evs, seqOf(t, evs[0].LastEventID))
	for _, ev := range evs {
		checkReading(t, ev.Data)
	}
	rc.stop(t)
}

// TestR3labsClientResume: the r3labs client, its connection broken, reconnects
// with Last-Event-ID on its own and gets the events it missed, no gap and no
// duplicate, compared with a client that stayed.
func TestR3labsClientResume(t *testing.T) {
	t.Parallel()
	ts := startServer(t, "--interval", "20ms", "--retention", "100000")
	ref := reference(t, ts)
	rc := newR3Client(t, ts.url+"/events")
	before := rc.waitEvents(t, 5*time.Second, 3)
	rc.breakConn(t)
	lastBefore := string(before[len(before)-1].ID)

	// The reconnection carries Last-Event-ID (the client's last ID when it
	// broke, at or after lastBefore).
	opened := ts.logs.Wait(t, 5*time.Second, "r3labs client reconnecting with Last-Event-ID", func(l logLine) bool {
		return l.Str("msg") == "stream opened" && l.Str("resume") != "" && l.Str("proto") == "HTTP/1.1"
	})
	resume := opened.Str("resume")
	if seqOf(t, resume) < seqOf(t, lastBefore) {
		t.Fatalf("reconnected with Last-Event-ID %s, but it had %s", resume, lastBefore)
	}
	// 20 more events after the reconnection, through the seam.
	evs := asReceived(rc.waitEvents(t, 5*time.Second, int(seqOf(t, resume)-seqOf(t, string(before[0].ID)))+21))
	first := seqOf(t, evs[0].LastEventID)
	checkConsecutive(t, "r3labs client across the reconnection", evs, first)
	refEvs := waitSeq(t, ref, 5*time.Second, seqOf(t, evs[len(evs)-1].LastEventID))
	checkSameAsRef(t, "r3labs client", evs, refEvs)
	rc.stop(t)
	if n := ts.metric(t, "tempstream_sse_replays_total", `stream="temperature"`); n != 1 {
		t.Errorf("replays = %v, want 1", n)
	}
}
