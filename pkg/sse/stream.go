package sse

import (
	"errors"
	"sync"
	"sync/atomic"
)

// Sentinel errors of streams and subscriptions.
var (
	// ErrClosed is returned by Publish and Subscribe after Close, and by
	// Subscription.Err when the stream closed under a subscriber.
	ErrClosed = errors.New("sse: stream closed")
	// ErrSlow is Subscription.Err for a subscriber evicted because its
	// backlog of live events passed its queue limit, or because events it
	// had not read yet left the ring.
	ErrSlow = errors.New("sse: subscriber too slow")
)

// Reset reasons, sent in the data of a "reset" event.
const (
	// ResetExpired: the resume point is older than the ring retains.
	ResetExpired = "expired"
	// ResetUnknown: the resume point is malformed, of another epoch (the
	// server restarted with a memory-only store) or not yet published.
	ResetUnknown = "unknown"
)

// Earliest is the resume point that asks for every retained event, then live
// ones (Mercure's convention): a page fills its chart from it on first load.
const Earliest = "earliest"

// Defaults for StreamOptions fields left zero.
const (
	DefaultRetention  = 3600
	DefaultQueueLimit = 256
)

// StreamOptions configure a Stream. The zero value works.
type StreamOptions struct {
	// Retention is how many events the ring keeps for replay
	// (DefaultRetention when 0).
	Retention int
	// QueueLimit is how many live events a subscriber may have unread before
	// it is evicted (DefaultQueueLimit when 0). It is capped at half the
	// retention, so an evicted subscriber can still resume without a gap.
	QueueLimit int
	// Epoch prefixes event IDs (see NewEpoch); empty means plain numbers.
	Epoch string
	// Metrics receives the stream's counters; nil means unregistered ones.
	Metrics *Metrics
}

// Stream is one named sequence of events with a bounded replay ring and any
// number of subscribers.
//
// Publish, Subscribe and Close are safe for concurrent use. Publish never
// blocks on a subscriber: it stores the event and wakes subscribers with
// non-blocking sends. After Close, Publish and Subscribe return ErrClosed and
// every subscription is done.
type Stream struct {
	name       string
	epoch      string
	queueLimit uint64
	m          streamMetrics

	pubMu sync.Mutex // serialises publishers: one writer of ring and head
	ring  ring
	head  atomic.Uint64 // newest published sequence number, 0 before any

	mu     sync.Mutex // guards subs and closed
	subs   map[*Subscription]struct{}
	closed bool
}

// NewStream returns an open stream.
func NewStream(name string, opts StreamOptions) *Stream {
	retention := opts.Retention
	if retention <= 0 {
		retention = DefaultRetention
	}
	limit := opts.QueueLimit
	if limit <= 0 {
		limit = DefaultQueueLimit
	}
	limit = max(min(limit, retention/2), 1)
	m := opts.Metrics
	if m == nil {
		m = NewMetrics(nil)
	}
	return &Stream{
		name:       name,
		epoch:      opts.Epoch,
		queueLimit: uint64(limit),
		m:          m.stream(name),
		ring:       newRing(retention),
		subs:       make(map[*Subscription]struct{}),
	}
}

// Name returns the stream's name.
func (s *Stream) Name() string { return s.name }

// Publish appends an event of type typ with payload data (copied) to the
// stream, wakes every subscriber and returns the event's ID. It refuses a
// type that would break the framing (ErrInvalidType).
func (s *Stream) Publish(typ string, data []byte) (string, error) {
	if hasBreak(typ) {
		return "", ErrInvalidType
	}
	s.pubMu.Lock()
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	if closed {
		s.pubMu.Unlock()
		return "", ErrClosed
	}
	seq := s.head.Load() + 1
	e := &entry{seq: seq, id: FormatID(s.epoch, seq), typ: typ, data: append([]byte(nil), data...)}
	frame, err := AppendEvent(make([]byte, 0, len(e.id)+len(typ)+len(data)+32), Event{ID: e.id, Type: typ, Data: e.data})
	if err != nil { // unreachable: id and type were checked
		s.pubMu.Unlock()
		return "", err
	}
	e.frame = frame
	s.ring.put(e)
	s.head.Store(seq)
	s.pubMu.Unlock()
	s.m.published.Inc()

	s.mu.Lock()
	for sub := range s.subs {
		if sub.liveBacklog(seq) > s.queueLimit {
			s.m.droppedQueue.Inc()
			s.evictLocked(sub, ErrSlow)
			continue
		}
		select {
		case sub.wake <- struct{}{}:
		default:
		}
	}
	s.mu.Unlock()
	return e.id, nil
}

// LastID returns the ID of the newest event, or "" before the first.
func (s *Stream) LastID() string {
	if h := s.head.Load(); h > 0 {
		return FormatID(s.epoch, h)
	}
	return ""
}

// Subscribe registers a subscriber. With lastEventID empty it starts at the
// newest event (delivered at once), then follows live; with Earliest, at the
// oldest retained event (the whole history, then live). With a lastEventID it
// starts right after that event, so replay and live meet with no gap and no
// duplicate; if that point is unknown, malformed or no longer retained, the
// subscription starts at the oldest retained event and Reset reports why.
//
// onEvict, if not nil, is called once (under the stream's lock, so it must
// not block) when the subscriber is evicted as slow, so that a writer blocked
// on that client can be interrupted. It is not called when the stream
// closes, and never after Close of the subscription returns.
func (s *Stream) Subscribe(lastEventID string, onEvict func()) (*Subscription, error) {
	sub := &Subscription{
		stream:  s,
		wake:    make(chan struct{}, 1),
		done:    make(chan struct{}),
		onEvict: onEvict,
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, ErrClosed
	}
	head := s.head.Load()
	oldest := s.ring.oldest(head)
	start := max(head, 1) // no resume point: the newest event, then live
	if lastEventID == Earliest {
		start = oldest
	} else if lastEventID != "" {
		seq, ok := ParseID(s.epoch, lastEventID)
		switch {
		case !ok || seq > head:
			sub.Reset = &ResetInfo{Reason: ResetUnknown, LastEventID: lastEventID}
			start = oldest
		case seq+1 < oldest:
			sub.Reset = &ResetInfo{Reason: ResetExpired, LastEventID: lastEventID}
			start = oldest
		default:
			start = seq + 1
		}
		if sub.Reset != nil && head > 0 {
			sub.Reset.OldestID = FormatID(s.epoch, oldest)
		}
	}
	sub.cursor.Store(start)
	sub.live = head
	if lastEventID != "" && start <= head {
		sub.Backlog = int(head - start + 1)
	}
	s.subs[sub] = struct{}{}
	s.m.subscribers.Inc()
	return sub, nil
}

// evictLocked ends sub with err. s.mu must be held.
func (s *Stream) evictLocked(sub *Subscription, err error) {
	if _, ok := s.subs[sub]; !ok {
		return
	}
	delete(s.subs, sub)
	s.m.subscribers.Dec()
	sub.err = err
	close(sub.done)
	// Only a slow subscriber's writer is interrupted: at Close, writers end
	// their responses cleanly (a blocked one is bounded by its deadline).
	if err == ErrSlow && sub.onEvict != nil {
		sub.onEvict()
	}
}

// Subscribers returns the number of current subscribers.
func (s *Stream) Subscribers() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.subs)
}

// Close ends every subscription with ErrClosed and refuses further Publish
// and Subscribe calls. Retained events stay readable by nobody. Close is
// idempotent.
func (s *Stream) Close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	s.closed = true
	for sub := range s.subs {
		s.evictLocked(sub, ErrClosed)
	}
}
