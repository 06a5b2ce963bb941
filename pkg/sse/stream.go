package sse

import (
	"cmp"
	"errors"
	"sort"
	"sync"
	"sync/atomic"
)

// Sentinel errors of streams and subscriptions.
var (
	// ErrClosed is returned by Publish and Subscribe after Close, and by
	// Subscription.Err when the stream closed under a subscriber.
	ErrClosed = errors.New("sse: stream closed")
	// ErrTooManyKeys is returned by PublishBatch for a batch whose new keys
	// would take the stream past its MaxKeys.
	ErrTooManyKeys = errors.New("sse: too many keys")
	// ErrBatchTooLarge is returned by PublishBatch for more than MaxBatch
	// messages.
	ErrBatchTooLarge = errors.New("sse: batch too large for the stream's retention")
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
	DefaultMaxKeys    = 10000
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
// number of subscribers.
//
// Publish, Subscribe and Close are safe for concurrent use. Publish never
// blocks on a subscriber: it stores the event and wakes subscribers with
// non-blocking sends. After Close, Publish and Subscribe return ErrClosed and
// every subscription is done.
type Stream struct {
	name       string
	epoch      string
	fedByLog   bool
	queueLimit uint64
	maxKeys    int
	m          streamMetrics

	pubMu  sync.Mutex // serialises publishers: one writer of ring, head and latest
	ring   ring
	head   atomic.Uint64     // newest published sequence number, 0 before any
	latest map[string]*entry // the newest event of each key

	caughtUpTo atomic.Uint64 // the last event appended while catching up

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
		fedByLog:   opts.FedByLog,
		queueLimit: uint64(limit),
		maxKeys:    cmp.Or(max(opts.MaxKeys, 0), DefaultMaxKeys),
		latest:     make(map[string]*entry),
		m:          m.stream(name),
		ring:       newRing(retention),
		subs:       make(map[*Subscription]struct{}),
	}
}

// ErrNotEmpty is returned by SetEpoch for a stream that already has events.
var ErrNotEmpty = errors.New("sse: stream already has events")

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

// Retention returns how many events the ring keeps.
func (s *Stream) Retention() int { return len(s.ring.slots) }

// Name returns the stream's name.
func (s *Stream) Name() string { return s.name }

// Message is one event to publish.
type Message struct {
	// Type is the event type; it must not hold CR, LF or NUL.
	Type string
	// Key names what the event is about (tempstream: the sensor ID).
	// Subscribers can follow a set of keys, and the stream remembers the
	// newest event of each key. Empty is a key like any other.
	Key string
	// Data is the payload; it is copied.
	Data []byte
}

// Publish appends an event of type typ with payload data (copied) and the
// empty key to the stream; see PublishBatch.
func (s *Stream) Publish(typ string, data []byte) (string, error) {
	ids, err := s.PublishBatch([]Message{{Type: typ, Data: data}})
	if err != nil {
		return "", err
	}
	return ids[0], nil
}

// PublishBatch appends msgs to the stream, in order and with consecutive
// IDs, wakes every subscriber once and returns the IDs. It appends all or
// nothing: it refuses the whole batch for a type that would break the
// framing (ErrInvalidType), for more than MaxBatch messages
// (ErrBatchTooLarge), for keys past the stream's MaxKeys (ErrTooManyKeys)
// and after Close (ErrClosed). When it returns, the events
// are in the ring, where every subscriber will read them.
func (s *Stream) PublishBatch(msgs []Message) ([]string, error) {
	for _, m := range msgs {
		if hasBreak(m.Type) {
			return nil, ErrInvalidType
		}
	}
	if len(msgs) == 0 {
		return nil, nil
	}
	if len(msgs) > s.MaxBatch() {
		return nil, ErrBatchTooLarge
	}
	s.pubMu.Lock()
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	if closed {
		s.pubMu.Unlock()
		return nil, ErrClosed
	}
	if err := s.checkKeysLocked(msgs); err != nil {
		s.pubMu.Unlock()
		return nil, err
	}
	ids := make([]string, len(msgs))
	seq := s.head.Load()
	for i, m := range msgs {
		seq++
		ids[i] = s.putLocked(seq, m)
	}
	s.head.Store(seq)
	s.pubMu.Unlock()
	s.m.published.Add(float64(len(msgs)))
	s.wakeAll(seq - uint64(len(msgs)))
	return ids, nil
}

// putLocked stores m as event seq. s.pubMu must be held.
func (s *Stream) putLocked(seq uint64, m Message) string {
	e := &entry{seq: seq, id: FormatID(s.epoch, seq), typ: m.Type, key: m.Key, data: append([]byte(nil), m.Data...)}
	e.frame, _ = AppendEvent(make([]byte, 0, len(e.id)+len(e.typ)+len(e.data)+32),
		Event{ID: e.id, Type: e.typ, Data: e.data}) // cannot fail: ID and type are clean
	s.ring.put(e)
	s.latest[m.Key] = e
	return e.id
}

// Append stores m under a sequence number given by an outside log (a
// JetStream stream's), for streams whose IDs are that log's: identical on
// every instance that reads it. seq must be above the stream's newest; a
// seq at or below it is a redelivery and is ignored (false). Sequence
// numbers skipped by the log become holes that readers pass over; a jump
// longer than the ring starts the ring afresh (a subscriber still inside
// the jump finds its events gone and resumes with a reset). Append does not
// count keys against MaxKeys (the log's writers do: see CheckBatch).
//
// With catchingUp set (the log holds more events right behind this one), the
// queue limit evicts nobody: a subscriber cannot keep pace with a burst it
// did not cause, and it loses nothing as long as its next event is still in
// the ring (Next finds out when it is not).
func (s *Stream) Append(seq uint64, m Message, catchingUp bool) (bool, error) {
	if hasBreak(m.Type) {
		return false, ErrInvalidType
	}
	s.pubMu.Lock()
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	head := s.head.Load()
	switch {
	case closed:
		s.pubMu.Unlock()
		return false, ErrClosed
	case seq <= head:
		s.pubMu.Unlock()
		return false, nil
	case head == 0 || seq-head > uint64(len(s.ring.slots)):
		s.ring.first.Store(seq)
	default:
		for hole := head + 1; hole < seq; hole++ {
			s.ring.put(&entry{seq: hole})
		}
	}
	s.putLocked(seq, m)
	s.head.Store(seq)
	s.pubMu.Unlock()
	s.m.published.Inc()
	if catchingUp {
		s.caughtUpTo.Store(seq) // events of a catch-up never count against the queue limit
	}
	s.wakeAll(head)
	return true, nil
}

// CheckBatch reports the error PublishBatch would give msgs for their
// length and keys, without publishing: for writers of an outside log that
// Append reads.
func (s *Stream) CheckBatch(msgs []Message) error {
	if len(msgs) > s.MaxBatch() {
		return ErrBatchTooLarge
	}
	for _, m := range msgs {
		if hasBreak(m.Type) {
			return ErrInvalidType
		}
	}
	s.pubMu.Lock()
	defer s.pubMu.Unlock()
	return s.checkKeysLocked(msgs)
}

// wakeAll wakes every subscriber after events were stored past prevHead,
// evicting those whose backlog up to prevHead had already reached the queue
// limit (so one batch alone evicts nobody: see MaxBatch), if their client is
// the slow one (slowClient).
func (s *Stream) wakeAll(prevHead uint64) {
	s.mu.Lock()
	for sub := range s.subs {
		if sub.liveBacklog(prevHead) >= s.queueLimit && sub.slowClient() {
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
}

// MaxBatch is the longest batch PublishBatch takes: half the retention (at
// least 1). With the queue limit also at most half, a subscriber's unread
// events never exceed the ring, so a batch cannot push them out before the
// subscriber is found slow and sent to resume.
func (s *Stream) MaxBatch() int { return max(len(s.ring.slots)/2, 1) }

// checkKeysLocked refuses msgs if their new keys would pass maxKeys.
// s.pubMu must be held.
func (s *Stream) checkKeysLocked(msgs []Message) error {
	var fresh map[string]bool
	for _, m := range msgs {
		if _, ok := s.latest[m.Key]; !ok && !fresh[m.Key] {
			if fresh == nil {
				fresh = make(map[string]bool)
			}
			fresh[m.Key] = true
		}
	}
	if len(s.latest)+len(fresh) > s.maxKeys {
		return ErrTooManyKeys
	}
	return nil
}

// Head returns the sequence number of the newest event, 0 before the first.
func (s *Stream) Head() uint64 { return s.head.Load() }

// LastID returns the ID of the newest event, or "" before the first.
func (s *Stream) LastID() string {
	s.pubMu.Lock()
	defer s.pubMu.Unlock()
	if h := s.head.Load(); h > 0 {
		return FormatID(s.epoch, h)
	}
	return ""
}

// Item is a published event as the stream keeps it. Data must not be
// modified.
type Item struct {
	ID, Type, Key string
	Data          []byte
}

func (e *entry) item() Item { return Item{ID: e.id, Type: e.typ, Key: e.key, Data: e.data} }

// Latest returns the newest event of every key, sorted by key.
func (s *Stream) Latest() []Item {
	s.pubMu.Lock()
	items := make([]Item, 0, len(s.latest))
	for _, e := range s.latest {
		items = append(items, e.item())
	}
	s.pubMu.Unlock()
	sort.Slice(items, func(i, j int) bool { return items[i].Key < items[j].Key })
	return items
}

// Since returns up to limit retained events after lastEventID (Earliest or
// "" for all retained ones) whose key is in keys (all when keys is empty),
// oldest first, and a non-nil ResetInfo when lastEventID cannot be honoured,
// exactly as Subscribe would resolve it.
func (s *Stream) Since(lastEventID string, keys []string, limit int) ([]Item, *ResetInfo) {
	filter := keySet(keys)
	s.pubMu.Lock() // no publisher overwrites what we read
	defer s.pubMu.Unlock()
	head := s.head.Load()
	start, reset := s.resolveLocked(lastEventID, filter, head)
	if lastEventID == "" {
		start = s.ring.oldest(head)
	}
	var items []Item
	for seq := start; seq <= head && len(items) < limit; seq++ {
		if e := s.ring.get(seq); e != nil && e.frame != nil && (filter == nil || filter[e.key]) {
			items = append(items, e.item())
		}
	}
	return items, reset
}

func keySet(keys []string) map[string]bool {
	if len(keys) == 0 {
		return nil
	}
	set := make(map[string]bool, len(keys))
	for _, k := range keys {
		set[k] = true
	}
	return set
}

// resolveLocked turns a resume point into the first sequence number to
// deliver, and a reset when the point cannot be honoured. With an empty
// lastEventID it returns head+1 (live only). s.pubMu must be held.
func (s *Stream) resolveLocked(lastEventID string, filter map[string]bool, head uint64) (uint64, *ResetInfo) {
	oldest := s.ring.oldest(head)
	if lastEventID == "" {
		return head + 1, nil
	}
	if lastEventID == Earliest {
		return oldest, nil
	}
	seq, ok := ParseID(s.epoch, lastEventID)
	var reason string
	switch {
	case ok && seq > head && s.fedByLog:
		return seq + 1, nil // not here yet: deliver what follows it when it comes
	case !ok || seq > head:
		reason = ResetUnknown
	case seq+1 < oldest:
		reason = ResetExpired
		if filter != nil && s.keysQuietSinceLocked(filter, seq) {
			reason = "" // nothing of the followed keys was missed
		}
	default:
		return seq + 1, nil
	}
	if reason == "" {
		return oldest, nil
	}
	rs := &ResetInfo{Reason: reason, LastEventID: lastEventID}
	if head > 0 {
		rs.OldestID = FormatID(s.epoch, oldest)
	}
	return oldest, rs
}

// keysQuietSinceLocked reports whether no key of filter has had an event
// after seq. s.pubMu must be held.
func (s *Stream) keysQuietSinceLocked(filter map[string]bool, seq uint64) bool {
	for k := range filter {
		if e, ok := s.latest[k]; ok && e.seq > seq {
			return false
		}
	}
	return true
}

// SubscribeOptions configure a subscription; the zero value follows every
// key from the newest events on.
type SubscribeOptions struct {
	// LastEventID is the resume point: "" (start at the newest events),
	// Earliest (every retained event) or an event ID.
	LastEventID string
	// Keys, when not empty, limits the subscription to events of these keys.
	Keys []string
	// OnEvict, if not nil, is called once (under the stream's lock, so it
	// must not block) when the subscriber is evicted as slow, so that a
	// writer blocked on that client can be interrupted. It is not called
	// when the stream closes, and never after Close of the subscription
	// returns.
	OnEvict func()
}

// Subscribe is SubscribeWith for all keys.
func (s *Stream) Subscribe(lastEventID string, onEvict func()) (*Subscription, error) {
	return s.SubscribeWith(SubscribeOptions{LastEventID: lastEventID, OnEvict: onEvict})
}

// SubscribeWith registers a subscriber.
//
// Without a resume point it first gets the newest event of each key it
// follows (at once, oldest first), then follows live. With Earliest it gets
// every retained event of its keys, then live. With an event ID it starts
// right after that event, so replay and live meet with no gap and no
// duplicate. If that point is unknown, malformed or no longer retained, it
// starts at the oldest retained event and Reset says why; a point older than
// retention is not reset when none of the followed keys had an event since.
func (s *Stream) SubscribeWith(o SubscribeOptions) (*Subscription, error) {
	sub := &Subscription{
		stream:  s,
		keys:    keySet(o.Keys),
		wake:    make(chan struct{}, 1),
		done:    make(chan struct{}),
		onEvict: o.OnEvict,
	}
	s.pubMu.Lock() // head, ring and latest hold still while we look
	defer s.pubMu.Unlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, ErrClosed
	}
	head := s.head.Load()
	start, reset := s.resolveLocked(o.LastEventID, sub.keys, head)
	sub.Reset = reset
	if o.LastEventID == "" {
		for k, e := range s.latest {
			if sub.keys == nil || sub.keys[k] {
				sub.initial = append(sub.initial, e)
			}
		}
		sort.Slice(sub.initial, func(i, j int) bool { return sub.initial[i].seq < sub.initial[j].seq })
	} else {
		for seq := start; seq <= head; seq++ {
			if e := s.ring.get(seq); e != nil && e.frame != nil && (sub.keys == nil || sub.keys[e.key]) {
				sub.Backlog++
			}
		}
	}
	sub.cursor.Store(start)
	sub.live = head
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
	sub.ended.Store(true)
	close(sub.done)
	select { // a writer waiting on a shared wake channel learns of the end too
	case sub.wake <- struct{}{}:
	default:
	}
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
