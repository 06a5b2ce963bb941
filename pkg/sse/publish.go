package sse

import "bytes"

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
// IDs, wakes each subscriber that receives any of them once and returns the
// IDs. It appends all or nothing: it refuses the whole batch for a type that
// would break the framing (ErrInvalidType), for more than MaxBatch messages
// (ErrBatchTooLarge), for keys past the stream's MaxKeys (ErrTooManyKeys)
// and after Close (ErrClosed). When it returns, the events are in the ring,
// where every subscriber will read them.
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
	defer s.pubMu.Unlock()
	if s.isClosed() {
		return nil, ErrClosed
	}
	if err := s.checkKeysLocked(msgs); err != nil {
		return nil, err
	}
	ids := make([]string, len(msgs))
	seq := s.head.Load()
	s.batchGen++
	for i, m := range msgs {
		seq++
		e := s.putLocked(seq, m)
		ids[i] = e.id
		if e.kl.batchGen != s.batchGen {
			e.kl.batchGen, e.kl.batchN = s.batchGen, 0
			s.touched = append(s.touched, e.kl)
		}
		e.kl.batchN++
	}
	s.head.Store(seq)
	s.m.published.Add(float64(len(msgs)))
	s.fanOutLocked(len(msgs), false)
	return ids, nil
}

func (s *Stream) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

// putLocked stores m as event seq, in the ring and in its key's log, and
// returns its entry. s.pubMu must be held; the caller publishes the head.
func (s *Stream) putLocked(seq uint64, m Message) *entry {
	kl := s.keyLogLocked(m.Key)
	e := &entry{seq: seq, id: FormatID(s.epoch, seq), typ: m.Type, kl: kl}
	e.frame, _ = AppendEvent(make([]byte, 0, len(e.id)+len(e.typ)+len(m.Data)+32),
		Event{ID: e.id, Type: e.typ, Data: m.Data}) // cannot fail: ID and type are clean
	e.data = dataIn(e.frame, m.Data)
	if kl.latest == nil {
		s.keyed++
		s.growRingLocked(seq - 1)
	}
	s.ring.put(e) // what it pushes out is still in its key's log
	if old := kl.events.put(e); old != nil {
		old.dropped.Store(true)
		kl.dropped = old.seq
		s.dropped = max(s.dropped, old.seq)
	}
	kl.latest = e
	return e
}

// dataIn returns the copy of data inside frame, its encoding, when data is
// written there as it is (one line: a reading's JSON always is), so that an
// event's payload is kept once; else a copy of its own.
func dataIn(frame, data []byte) []byte {
	if bytes.IndexAny(data, "\r\n") < 0 {
		end := len(frame) - 2 // the blank line that ends the event
		if start := end - len(data); start >= 0 && bytes.Equal(frame[start:end], data) {
			return frame[start:end:end]
		}
	}
	return append([]byte(nil), data...)
}

// growRingLocked grows the ring, if it must, to span the retention of every
// key the stream has (up to MaxKeys), keeping the events up to head.
func (s *Stream) growRingLocked(head uint64) {
	if n := ceilPow2(min(s.keyed, s.maxKeys) * s.retention); n > s.ring.size() {
		s.ring.grow(n, head)
	}
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
	defer s.pubMu.Unlock()
	head := s.head.Load()
	switch {
	case s.isClosed():
		return false, ErrClosed
	case seq <= head:
		return false, nil
	case head == 0 || seq-head > uint64(s.ring.size()):
		s.ring.first.Store(seq)
	default:
		for hole := head + 1; hole < seq; hole++ {
			s.ring.put(&entry{seq: hole}) // a sequence number the log skipped
		}
	}
	e := s.putLocked(seq, m)
	s.head.Store(seq)
	s.m.published.Inc()
	s.batchGen++
	e.kl.batchGen, e.kl.batchN = s.batchGen, 1
	s.touched = append(s.touched, e.kl)
	s.fanOutLocked(1, catchingUp)
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

// fanOutLocked tells the subscribers of every key, and the followers of
// each key in s.touched, that n events were published (batchN of them of
// each touched key), and clears s.touched. A subscriber whose unread live
// events had already reached the queue limit before these (so one batch
// alone evicts nobody: see MaxBatch) is evicted instead, if its client is
// the slow one (slowClient). Events of a catch-up (catchingUp) are not
// counted as unread: nobody could have kept pace with that burst. s.pubMu
// must be held.
func (s *Stream) fanOutLocked(n int, catchingUp bool) {
	s.mu.Lock()
	// Backwards: an eviction moves the last subscription into the gap.
	for i := len(s.unfiltered) - 1; i >= 0; i-- {
		if i < len(s.unfiltered) {
			s.notifyLocked(s.unfiltered[i], n, catchingUp)
		}
	}
	for _, kl := range s.touched {
		for sub := range kl.followers {
			s.notifyLocked(sub, kl.batchN, catchingUp)
		}
	}
	s.mu.Unlock()
	s.wakes.flush()
	clear(s.touched)
	s.touched = s.touched[:0]
}

// notifyLocked tells sub of n new events for it. s.mu must be held.
func (s *Stream) notifyLocked(sub *Subscription, n int, catchingUp bool) {
	if sub.unread.Load() >= s.queueLimit && sub.slowClient() {
		s.m.droppedQueue.Inc()
		s.evictLocked(sub, ErrSlow)
		return
	}
	if !catchingUp {
		sub.unread.Add(int64(n))
	}
	sub.notifyIn(&s.wakes)
}

// MaxBatch is the longest batch PublishBatch takes: half the retention (at
// least 1). With the queue limit also at most half, a subscriber's unread
// events never exceed the ring, so a batch cannot push them out before the
// subscriber is found slow and sent to resume.
func (s *Stream) MaxBatch() int { return max(s.retention/2, 1) }

// checkKeysLocked refuses msgs if their new keys would pass maxKeys.
// s.pubMu must be held.
func (s *Stream) checkKeysLocked(msgs []Message) error {
	var fresh map[string]bool
	for _, m := range msgs {
		if kl := s.keys[m.Key]; (kl == nil || kl.latest == nil) && !fresh[m.Key] {
			if fresh == nil {
				fresh = make(map[string]bool)
			}
			fresh[m.Key] = true
		}
	}
	if s.keyed+len(fresh) > s.maxKeys {
		return ErrTooManyKeys
	}
	return nil
}
