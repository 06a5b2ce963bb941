package ssetest

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/tempstream/tempstream/pkg/sse"
)

// FollowOptions are how a Follower reconnects.
type FollowOptions struct {
	// Retry is the pause after a failed attempt to reconnect: a client's
	// pace, not a wait for an event. 0 means 100 ms.
	Retry time.Duration
	// GiveUp: the Follower stops once reconnecting has failed for this
	// long. 0 means 10 s.
	GiveUp time.Duration
}

// Conn is one connection of a Follower.
type Conn struct {
	URL         string    // where it connected
	LastEventID string    // the Last-Event-ID it sent ("" for the first)
	First       int       // the index of its first event among the Follower's
	End         error     // why it ended; nil while open
	EndAt       time.Time // when
}

// Follower reads a stream the way a browser's EventSource does: whenever
// the stream ends, it reconnects at once (to its target, which the test may
// change: a load balancer's choice) with Last-Event-ID, opening the stream
// as the first one was opened (Dial or Open, with the same Options). It
// keeps every event with its arrival time, and every connection. Safe for
// concurrent use.
type Follower struct {
	opts FollowOptions

	mu      sync.Mutex
	cur     *Stream
	target  string
	evs     []sse.Received
	at      []time.Time
	conns   []Conn
	err     error // why it stopped reconnecting
	stopped bool
	changed chan struct{}
	stopc   chan struct{}
	done    chan struct{}
}

// Follow reads first from now on and reconnects after it; it stops when
// the test ends (or at Stop). Nothing else may read first after it.
func Follow(tb testing.TB, first *Stream, o FollowOptions) *Follower {
	if o.Retry <= 0 {
		o.Retry = 100 * time.Millisecond
	}
	if o.GiveUp <= 0 {
		o.GiveUp = 10 * time.Second
	}
	f := &Follower{opts: o, cur: first, target: first.url, conns: []Conn{{URL: first.url, LastEventID: first.opts.LastEventID}},
		changed: make(chan struct{}), stopc: make(chan struct{}), done: make(chan struct{})}
	go f.run(first)
	tb.Cleanup(f.Stop)
	return f
}

func (f *Follower) notifyLocked() {
	close(f.changed)
	f.changed = make(chan struct{})
}

func (f *Follower) run(s *Stream) {
	defer close(f.done)
	for {
		ev, err := s.next(time.Time{})
		now := time.Now()
		f.mu.Lock()
		if err == nil {
			f.evs = append(f.evs, ev)
			f.at = append(f.at, now)
			f.notifyLocked()
			f.mu.Unlock()
			continue
		}
		stopped := f.stopped
		if !stopped {
			f.conns[len(f.conns)-1].End, f.conns[len(f.conns)-1].EndAt = err, now
			f.notifyLocked()
		}
		f.mu.Unlock()
		s.release()
		if stopped {
			return
		}
		if s, err = f.reconnect(s); err != nil {
			f.mu.Lock()
			f.err = err
			f.notifyLocked()
			f.mu.Unlock()
			return
		}
	}
}

var errStopped = errors.New("ssetest: follower stopped")

// reconnect opens the stream on the current target, resuming after old's
// last event ID, retrying at the client's pace until GiveUp.
func (f *Follower) reconnect(old *Stream) (*Stream, error) {
	if old.reopen == nil {
		return nil, errors.New("ssetest: a Pipe cannot be reopened")
	}
	o := old.opts
	o.LastEventID = old.LastEventID()
	deadline := time.Now().Add(f.opts.GiveUp)
	for {
		f.mu.Lock()
		target, stopped := f.target, f.stopped
		f.mu.Unlock()
		if stopped {
			return nil, errStopped
		}
		s, err := old.reopen(target, o)
		if err == nil {
			f.mu.Lock()
			if f.stopped {
				f.mu.Unlock()
				s.release()
				return nil, errStopped
			}
			f.cur = s
			f.conns = append(f.conns, Conn{URL: target, LastEventID: o.LastEventID, First: len(f.evs)})
			f.notifyLocked()
			f.mu.Unlock()
			return s, nil
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("reconnecting to %s: %w", target, err)
		}
		select {
		case <-time.After(f.opts.Retry):
		case <-f.stopc:
			return nil, errStopped
		}
	}
}

// Retarget sends the next reconnection to url.
func (f *Follower) Retarget(url string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.target = url
}

// Stop ends the current connection and waits until the Follower's
// goroutine ended. It may be called more than once.
func (f *Follower) Stop() {
	f.mu.Lock()
	if !f.stopped {
		f.stopped = true
		close(f.stopc)
	}
	cur := f.cur
	f.mu.Unlock()
	cur.Close()
	<-f.done
}

// Snapshot returns the events so far, their arrival times and the
// connections.
func (f *Follower) Snapshot() ([]sse.Received, []time.Time, []Conn) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.evs), slices.Clone(f.at), slices.Clone(f.conns)
}

// Err is why the Follower stopped reconnecting, or nil.
func (f *Follower) Err() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.err
}

// Wait waits until cond holds for the events so far and returns them; it
// fails the test if timeout passes first or the Follower gave up.
func (f *Follower) Wait(tb testing.TB, timeout time.Duration, what string, cond func([]sse.Received) bool) []sse.Received {
	tb.Helper()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for {
		f.mu.Lock()
		evs, err, changed, n := f.evs[:len(f.evs):len(f.evs)], f.err, f.changed, len(f.conns)
		f.mu.Unlock()
		if cond(evs) {
			return evs
		}
		if err != nil {
			tb.Fatalf("%s: gave up after %d events on %d connections: %v", what, len(evs), n, err)
		}
		select {
		case <-changed:
		case <-timer.C:
			tb.Fatalf("%s: not within %v (%d events on %d connections)", what, timeout, len(evs), n)
		}
	}
}
