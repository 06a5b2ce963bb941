package sse

import "sync/atomic"

// ResetInfo says why a subscription could not resume where its client asked:
// the client missed events. It is sent to the client as a "reset" event.
type ResetInfo struct {
	Reason      string `json:"reason"`             // ResetExpired or ResetUnknown
	LastEventID string `json:"lastEventId"`        // the resume point asked for
	OldestID    string `json:"oldestId,omitempty"` // the first event replayed, if any
}

// Subscription is one subscriber's position in a stream.
//
// One goroutine reads it: it calls Next until it returns no frames, then waits
// on Wake or Done. Close may be called from any goroutine, more than once.
type Subscription struct {
	stream  *Stream
	keys    map[string]bool // followed keys; nil for all
	initial []*entry        // newest event per key, delivered before the cursor's
	cursor  atomic.Uint64   // next sequence number to deliver
	live    uint64          // head at Subscribe: events up to it are backlog, not counted against the queue limit
	wake    chan struct{}
	done    chan struct{}
	ended   atomic.Bool // set with done: cheaper to test than a receive
	err     error       // set before done is closed and ended set
	onEvict func()

	// A writer that reports its writes (reportWrites) is evicted for its
	// queue limit only while a write of its is blocked: a backlog built
	// while its client reads (the server busy, a burst from the log) is
	// the server's to catch up, not a slow client.
	reportsWrites bool
	blocked       atomic.Bool

	// Reset is non-nil when the resume point could not be used.
	Reset *ResetInfo
	// Backlog is how many retained events a resuming subscriber is replayed
	// before live ones (0 without a resume point).
	Backlog int
}

// Wake receives a value after events have been published since it last did,
// and when the subscription ends.
func (sub *Subscription) Wake() <-chan struct{} { return sub.wake }

// Done is closed when the subscription was evicted or its stream closed; Err
// then says which.
func (sub *Subscription) Done() <-chan struct{} { return sub.done }

// Err returns ErrSlow or ErrClosed once Done is closed, and nil before.
func (sub *Subscription) Err() error {
	if !sub.ended.Load() {
		return nil
	}
	return sub.err
}

// liveBacklog is how many events up to head, published after Subscribe, are
// unread. A subscriber that joined or read past head (a later publisher ran
// first) has none.
func (sub *Subscription) liveBacklog(head uint64) uint64 {
	// Below the ring's first event nothing is unread: a subscriber there
	// either skips to it (subscribed to an empty ring) or finds the gap
	// in Next.
	// Events appended while the stream caught up with its log do not count
	// either: nobody could have kept pace with that burst.
	read := max(sub.cursor.Load()-1, sub.live, sub.stream.ring.first.Load()-1, sub.stream.caughtUpTo.Load())
	if read >= head {
		return 0
	}
	return head - read
}

// reportWrites says that the subscription's writer will report its blocked
// writes with setBlocked; call it before the writer's first write.
func (sub *Subscription) reportWrites() {
	s := sub.stream
	s.mu.Lock()
	sub.reportsWrites = true
	s.mu.Unlock()
}

// setBlocked reports that a write to the subscriber's client is under way
// and may block (true), or has returned (false).
func (sub *Subscription) setBlocked(b bool) { sub.blocked.Store(b) }

// slowClient reports whether the queue limit may evict sub now: always for a
// subscription whose writer does not report its writes, and while a write
// is blocked for one that does. s.mu must be held.
func (sub *Subscription) slowClient() bool {
	return !sub.reportsWrites || sub.blocked.Load()
}

// Next appends to dst the frames of up to max unread events, in order, and
// moves past them. It returns dst unchanged when the subscriber is up to
// date. After the stream closed it still returns what was published before,
// so a closing stream ends each response with every event it had. If the
// subscriber was evicted, or an unread event has left the ring, it returns
// ErrSlow (with the frames read before that point) and the subscriber must
// stop after sending them. The frames are shared and must not
// be modified.
func (sub *Subscription) Next(dst [][]byte, max int) ([][]byte, error) {
	if err := sub.Err(); err == ErrSlow {
		return dst, err
	}
	n := 0
	for ; len(sub.initial) > 0 && n < max; n++ {
		dst = append(dst, sub.initial[0].frame)
		sub.initial[0] = nil
		sub.initial = sub.initial[1:]
	}
	s := sub.stream
	head := s.head.Load()
	cur := sub.cursor.Load()
	for ; cur <= head && n < max; cur++ {
		e := s.ring.get(cur)
		if e == nil && sub.live == 0 && cur < s.ring.first.Load() {
			// Subscribed to an empty ring whose log then started
			// further on: nothing before it was this stream's.
			cur = s.ring.first.Load() - 1
			continue
		}
		if e == nil {
			s.m.droppedQueue.Inc()
			s.mu.Lock()
			s.evictLocked(sub, ErrSlow)
			s.mu.Unlock()
			return dst, ErrSlow
		}
		if e.frame != nil && (sub.keys == nil || sub.keys[e.key]) {
			dst = append(dst, e.frame)
			n++
		}
	}
	sub.cursor.Store(cur)
	return dst, nil
}

// Pending reports whether events are waiting to be read by Next.
func (sub *Subscription) Pending() bool {
	return len(sub.initial) > 0 || sub.cursor.Load() <= sub.stream.head.Load()
}

// setWake makes wake (which a writer pool shares between many
// subscriptions) the channel that gets sub's wake-ups, and the end of it.
func (sub *Subscription) setWake(wake chan struct{}) {
	s := sub.stream
	s.mu.Lock()
	sub.wake = wake
	s.mu.Unlock()
}

// setOnEvict replaces the function called on eviction (see
// SubscribeOptions.OnEvict).
func (sub *Subscription) setOnEvict(f func()) {
	s := sub.stream
	s.mu.Lock()
	sub.onEvict = f
	s.mu.Unlock()
}

// Close unsubscribes. After it returns, onEvict is not called.
func (sub *Subscription) Close() {
	s := sub.stream
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.subs[sub]; ok {
		delete(s.subs, sub)
		s.m.subscribers.Dec()
	}
}
