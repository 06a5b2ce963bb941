package sse

import "sync/atomic"

// Subscription is one subscriber's position in a stream.
//
// One goroutine reads it: it calls Next until it returns no frames, then waits
// on Wake or Done. Close may be called from any goroutine, more than once.
type Subscription struct {
	stream  *Stream
	follows []keyCursor   // the followed keys' logs; nil: every key, read from the ring
	allIdx  int           // the index in stream.unfiltered (every key only)
	initial []*entry      // newest event per key, delivered before the cursor's
	cursor  atomic.Uint64 // next sequence number to deliver: every event of the subscription below it was delivered
	live    uint64        // head at Subscribe: events up to it are backlog, not counted as unread
	unread  atomic.Int64  // live events published for it and not read (see notifyLocked)
	// skipDropped: events up to it that left their key's log before the
	// subscription began are passed over in the ring (its reset said so);
	// one dropped later was missed, and evicts it.
	skipDropped uint64

	wake     chan struct{}
	notifier notifier // when set (the writer pool), gets the wake-ups instead of wake; under stream.mu
	done     chan struct{}
	ended    atomic.Bool // set with done: cheaper to test than a receive
	err      error       // set before done is closed and ended set
	onEvict  func()

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

// keyCursor is a subscription's place in one followed key's log. Owned by the
// subscription's reader.
type keyCursor struct {
	kl   *keyLog
	next uint64 // the key's next event to deliver (kseq)
}

// notifier receives the wake-ups of subscriptions that share a writer (the
// writer pool's responses). Neither method may block: they are called under
// the stream's lock. notifyIn adds the wake-up to a publish's batch, which
// hands it over when the publisher has visited every subscriber (flush).
type notifier interface {
	notify()
	notifyIn(b *wakeBatch)
}

// notify wakes sub's reader. s.mu must be held.
func (sub *Subscription) notify() { sub.notifyIn(nil) }

// notifyIn wakes sub's reader, through b (when not nil) for a pooled one.
// s.mu must be held.
func (sub *Subscription) notifyIn(b *wakeBatch) {
	switch {
	case sub.notifier != nil && b != nil:
		sub.notifier.notifyIn(b)
	case sub.notifier != nil:
		sub.notifier.notify()
	default:
		select {
		case sub.wake <- struct{}{}:
		default:
		}
	}
}

// Wake receives a value after events for the subscription have been
// published since it last did, and when the subscription ends.
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
	if sub.follows != nil {
		return sub.nextKeyed(dst, n, max)
	}
	s := sub.stream
	head := s.head.Load()
	cur := sub.cursor.Load()
	read := 0
	for ; cur <= head && n < max; cur++ {
		e := s.ring.get(cur)
		if e == nil && sub.live == 0 && cur < s.ring.first.Load() {
			// Subscribed to an empty ring whose log then started
			// further on: nothing before it was this stream's.
			cur = s.ring.first.Load() - 1
			continue
		}
		if e == nil {
			return dst, sub.gone()
		}
		if e.frame != nil && e.dropped.Load() {
			if e.seq <= sub.skipDropped {
				continue
			}
			return dst, sub.gone()
		}
		if e.frame != nil {
			dst = append(dst, e.frame)
			n++
			if e.seq > sub.live {
				read++
			}
		}
	}
	sub.cursor.Store(cur)
	sub.consumed(read)
	return dst, nil
}

// nextKeyed is Next for a subscription to a set of keys: it merges the
// followed keys' logs in sequence order, up to the head it saw first (every
// event at or below the head is in its key's log).
func (sub *Subscription) nextKeyed(dst [][]byte, n, limit int) ([][]byte, error) {
	s := sub.stream
	head := s.head.Load()
	cur := sub.cursor.Load()
	if first := s.ring.first.Load(); cur < first {
		if sub.live != 0 {
			return dst, sub.gone() // the log jumped over events not yet read
		}
		cur = first // subscribed to an empty ring whose log then started further on
	}
	read := 0
	for n < limit {
		var best *keyCursor
		var next *entry
		for i := range sub.follows {
			f := &sub.follows[i]
			var e *entry
			for f.next <= f.kl.events.n.Load() {
				if e = f.kl.events.get(f.next); e == nil {
					return dst, sub.gone()
				}
				if e.seq >= cur {
					break
				}
				f.next++ // at or before the resume point
				e = nil
			}
			if e != nil && e.seq <= head && (next == nil || e.seq < next.seq) {
				best, next = f, e
			}
		}
		if next == nil {
			cur = max(cur, head+1)
			break
		}
		dst = append(dst, next.frame)
		n++
		best.next++
		cur = next.seq + 1
		if next.seq > sub.live {
			read++
		}
	}
	sub.cursor.Store(cur)
	sub.consumed(read)
	return dst, nil
}

// gone evicts sub, one of whose unread events left the ring, and returns
// ErrSlow.
func (sub *Subscription) gone() error {
	s := sub.stream
	s.m.droppedQueue.Inc()
	s.mu.Lock()
	s.evictLocked(sub, ErrSlow)
	s.mu.Unlock()
	return ErrSlow
}

// consumed counts n live events as read.
func (sub *Subscription) consumed(n int) {
	if n == 0 {
		return
	}
	// Events of a catch-up are read but were never counted: stay at 0.
	if v := sub.unread.Add(-int64(n)); v < 0 {
		sub.unread.CompareAndSwap(v, 0)
	}
}

// Pending reports whether events are waiting to be read by Next.
func (sub *Subscription) Pending() bool {
	if len(sub.initial) > 0 {
		return true
	}
	if sub.follows == nil {
		return sub.cursor.Load() <= sub.stream.head.Load()
	}
	for i := range sub.follows {
		if f := &sub.follows[i]; f.next <= f.kl.events.n.Load() {
			return true
		}
	}
	return false
}

// setNotifier makes n (a writer pool's response) the receiver of sub's
// wake-ups, and of the end of it.
func (sub *Subscription) setNotifier(n notifier) {
	s := sub.stream
	s.mu.Lock()
	sub.notifier = n
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
