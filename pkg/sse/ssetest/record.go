package ssetest

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/tempstream/tempstream/pkg/sse"
)

// Recorder reads a stream on its own goroutine and keeps every event with
// the time it arrived whole, so that a test can wait for what it needs
// while the stream goes on, or compare streams with each other. Safe for
// concurrent use.
type Recorder struct {
	s *Stream

	mu      sync.Mutex
	evs     []sse.Received
	at      []time.Time
	err     error     // why reading ended; nil while it goes on
	endAt   time.Time // when
	next    int       // the first event Next has not returned
	changed chan struct{}
	done    chan struct{}
}

// Record reads s from now on, on a goroutine of the Recorder's, until the
// stream ends or Stop (at the latest, when the test ends). Nothing else may
// read s after it.
func (s *Stream) Record(tb testing.TB) *Recorder {
	r := &Recorder{s: s, changed: make(chan struct{}), done: make(chan struct{})}
	go r.run()
	tb.Cleanup(r.Stop)
	return r
}

func (r *Recorder) run() {
	defer close(r.done)
	for {
		ev, err := r.s.next(time.Time{})
		now := time.Now()
		r.mu.Lock()
		if err != nil {
			r.err, r.endAt = err, now
		} else {
			r.evs = append(r.evs, ev)
			r.at = append(r.at, now)
		}
		close(r.changed)
		r.changed = make(chan struct{})
		r.mu.Unlock()
		if err != nil {
			return
		}
	}
}

// Stream is the stream recorded.
func (r *Recorder) Stream() *Stream { return r.s }

// Stop closes the stream and waits until the Recorder's goroutine ended.
// It may be called more than once.
func (r *Recorder) Stop() {
	r.s.Close()
	<-r.done
}

// Snapshot returns the events so far, their arrival times, and why reading
// ended (nil while it goes on). The slices are not changed afterwards.
func (r *Recorder) Snapshot() ([]sse.Received, []time.Time, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.evs[:len(r.evs):len(r.evs)], r.at[:len(r.at):len(r.at)], r.err
}

// Wait waits until cond holds for the events so far and returns them. It
// fails the test if timeout passes first, or the stream ends first.
func (r *Recorder) Wait(tb testing.TB, timeout time.Duration, what string, cond func([]sse.Received) bool) []sse.Received {
	tb.Helper()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for {
		r.mu.Lock()
		evs, err, changed := r.evs[:len(r.evs):len(r.evs)], r.err, r.changed
		r.mu.Unlock()
		if cond(evs) {
			return evs
		}
		if err != nil {
			tb.Fatalf("%s: the stream of %s from %s ended after %d events: %v", what, r.s.url, r.s.local, len(evs), err)
		}
		select {
		case <-changed:
		case <-timer.C:
			tb.Fatalf("%s: not within %v (%d events so far from %s)", what, timeout, len(evs), r.s.url)
		}
	}
}

// WaitN waits until the Recorder has n events and returns them all.
func (r *Recorder) WaitN(tb testing.TB, timeout time.Duration, n int) []sse.Received {
	tb.Helper()
	return r.Wait(tb, timeout, fmt.Sprintf("%d events", n), func(evs []sse.Received) bool { return len(evs) >= n })
}

// WaitID waits until the Recorder has the event whose ID is id and returns
// the events up to it.
func (r *Recorder) WaitID(tb testing.TB, timeout time.Duration, id string) []sse.Received {
	tb.Helper()
	var k int
	r.Wait(tb, timeout, "event "+id, func(evs []sse.Received) bool {
		for ; k < len(evs); k++ {
			if evs[k].LastEventID == id {
				return true
			}
		}
		return false
	})
	evs, _, _ := r.Snapshot()
	return evs[:k+1]
}

// Next returns the first event Next has not returned yet, with its arrival
// time, waiting at most timeout for it. Its error is a timeout (IsTimeout)
// or, once the stream ended and every event before the end was returned,
// why it ended.
func (r *Recorder) Next(timeout time.Duration) (sse.Received, time.Time, error) {
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for {
		r.mu.Lock()
		if r.next < len(r.evs) {
			ev, at := r.evs[r.next], r.at[r.next]
			r.next++
			r.mu.Unlock()
			return ev, at, nil
		}
		err, changed := r.err, r.changed
		r.mu.Unlock()
		if err != nil {
			return sse.Received{}, time.Time{}, err
		}
		select {
		case <-changed:
		case <-timer.C:
			return sse.Received{}, time.Time{}, timeoutError{timeout}
		}
	}
}

// MustNext is Next that fails the test on an error.
func (r *Recorder) MustNext(tb testing.TB, timeout time.Duration) (sse.Received, time.Time) {
	tb.Helper()
	ev, at, err := r.Next(timeout)
	if err != nil {
		tb.Fatalf("the next event of %s from %s: %v", r.s.url, r.s.local, err)
	}
	return ev, at
}

// End waits until the stream ends and returns why and when; it fails the
// test if the stream is still open after timeout.
func (r *Recorder) End(tb testing.TB, timeout time.Duration) (error, time.Time) {
	tb.Helper()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case <-r.done:
	case <-timer.C:
		tb.Fatalf("the stream of %s from %s is still open after %v", r.s.url, r.s.local, timeout)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.err, r.endAt
}

// Done is closed when reading has ended.
func (r *Recorder) Done() <-chan struct{} { return r.done }
