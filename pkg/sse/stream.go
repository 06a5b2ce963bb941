package sse

import (
	"cmp"
	"sync"
	"sync/atomic"
)

// Earliest is the resume point that asks for every retained event, then live
// ones (Mercure's convention): a page fills its chart from it on first load.
const Earliest = "earliest"

// Defaults for StreamOptions fields left zero.
const (
	DefaultRetention  = 3600
	DefaultQueueLimit = 256
	DefaultMaxKeys    = 10000
)

// StreamOptions configure a Stream. The zero value works.
type StreamOptions struct {
	// Retention is how many events of each key the stream keeps for
	// replay (DefaultRetention when 0): adding keys never shortens what one
	// key's followers can resume. Memory is bounded by MaxKeys × Retention
	// events.
	Retention int
	// QueueLimit is how many live events a subscriber may have unread before
	// it is evicted (DefaultQueueLimit when 0). It is capped at half the
	// retention, so an evicted subscriber can still resume without a gap.
	QueueLimit int
	// MaxKeys caps the distinct keys the stream remembers (DefaultMaxKeys
	// when 0): the memory of latest events per key stays bounded.
	MaxKeys int
	// Epoch prefixes event IDs (see NewEpoch); empty means plain numbers.
	Epoch string
	// FedByLog says the stream's events come from an outside log through
	// Append, which this stream may lag behind (another instance may have
	// handed out newer IDs): a resume point above the newest event is then
	// awaited, not reset.
	FedByLog bool
	// Metrics receives the stream's counters; nil means unregistered ones.
	Metrics *Metrics
}

// Stream is one named sequence of events with a bounded replay ring and any
// number of subscribers, each following every key or a set of keys.
//
// The pieces: publish.go (PublishBatch, Append and the fan-out), subscribe.go
// (SubscribeWith), resume.go (resume points, Since, Latest), keylog.go (the
// per-key index), subscription.go (one subscriber's reads).
//
// Every method is safe for concurrent use. Publishing never blocks on a
// subscriber: it stores the event and wakes the subscribers that receive it
// with non-blocking sends. After Close, publishing and subscribing return
// ErrClosed and every subscription is done.
type Stream struct {
	name       string
	epoch      string
	fedByLog   bool
	retention  int
	queueLimit int64
	maxKeys    int
	m          streamMetrics

	pubMu    sync.Mutex // serialises publishers: one writer of ring, head and keys
	ring     ring
	head     atomic.Uint64      // newest published sequence number, 0 before any
	keys     map[string]*keyLog // every key with an event or a follower
	keyed    int                // keys with an event (what MaxKeys caps)
	dropped  uint64             // the newest sequence number any key's log dropped (0: none)
	batchGen uint64             // PublishBatch's generation, to group a batch by key
	touched  []*keyLog          // the keys of the batch being published
	wakes    wakeBatch          // the pooled wake-ups of the publish under way

	mu         sync.Mutex // guards subs, every follower set and closed
	subs       map[*Subscription]struct{}
	unfiltered []*Subscription // the subscriptions that follow every key
	closed     bool
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
	s := &Stream{
		name:       name,
		epoch:      opts.Epoch,
		fedByLog:   opts.FedByLog,
		retention:  retention,
		queueLimit: int64(limit),
		maxKeys:    cmp.Or(max(opts.MaxKeys, 0), DefaultMaxKeys),
		keys:       make(map[string]*keyLog),
		m:          m.stream(name),
		subs:       make(map[*Subscription]struct{}),
	}
	s.ring.init(retention)
	return s
}

// SetEpoch sets the prefix of the stream's event IDs (see NewEpoch), for a
// stream whose epoch is known only once it is opened: that of an outside log
// that feeds it. It fails with ErrNotEmpty once the stream has events.
func (s *Stream) SetEpoch(epoch string) error {
	s.pubMu.Lock()
	defer s.pubMu.Unlock()
	if s.head.Load() != 0 {
		return ErrNotEmpty
	}
	s.epoch = epoch
	return nil
}

// Epoch returns the prefix of the stream's event IDs.
func (s *Stream) Epoch() string {
	s.pubMu.Lock()
	defer s.pubMu.Unlock()
	return s.epoch
}

// Retention returns how many events of each key the stream keeps.
func (s *Stream) Retention() int { return s.retention }

// Name returns the stream's name.
func (s *Stream) Name() string { return s.name }

// Head returns the sequence number of the newest event, 0 before the first.
func (s *Stream) Head() uint64 { return s.head.Load() }

// keyLogLocked returns the log of key, creating it. s.pubMu must be held.
func (s *Stream) keyLogLocked(key string) *keyLog {
	kl := s.keys[key]
	if kl == nil {
		kl = &keyLog{key: key, events: keyRing{limit: s.retention}}
		s.keys[key] = kl
	}
	return kl
}

// subscribers returns the number of current subscribers.
func (s *Stream) subscribers() int {
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
