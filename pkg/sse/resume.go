package sse

import "sort"

// ResetInfo says why a subscription could not resume where its client asked:
// the client missed events. It is sent to the client as a "reset" event.
type ResetInfo struct {
	Reason      ResetReason `json:"reason"`             // ResetExpired or ResetUnknown
	LastEventID string      `json:"lastEventId"`        // the resume point asked for
	OldestID    string      `json:"oldestId,omitempty"` // the first event replayed, if any
}

// Item is a published event as the stream keeps it. Data must not be
// modified.
type Item struct {
	ID, Type, Key string
	Data          []byte
}

func (e *entry) item() Item { return Item{ID: e.id, Type: e.typ, Key: e.kl.key, Data: e.data} }

// Latest returns the newest event of every key, sorted by key.
func (s *Stream) Latest() []Item {
	s.pubMu.Lock()
	items := make([]Item, 0, s.keyed)
	for _, kl := range s.keys {
		if kl.latest != nil {
			items = append(items, kl.latest.item())
		}
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
	if lastEventID == "" {
		lastEventID = Earliest
	}
	start, reset := s.resolveLocked(lastEventID, filter, head)
	var items []Item
	if filter == nil {
		for seq := start; seq <= head && len(items) < limit; seq++ {
			if e := s.ring.get(seq); e != nil && e.frame != nil && !e.dropped.Load() {
				items = append(items, e.item())
			}
		}
		return items, reset
	}
	var found []*entry
	for k := range filter {
		kl := s.keys[k]
		if kl == nil {
			continue
		}
		n := kl.events.n.Load()
		for kseq := kl.events.firstAtOrAfter(start); kseq <= n; kseq++ {
			if e := kl.events.get(kseq); e != nil {
				found = append(found, e)
			}
		}
	}
	sort.Slice(found, func(i, j int) bool { return found[i].seq < found[j].seq })
	for _, e := range found[:min(len(found), limit)] {
		items = append(items, e.item())
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
//
// A resume point is honoured when nothing the subscriber follows was lost
// after it: for a subscriber of every key, no key's log dropped an event
// after it and the ring still spans it; for one of a set of keys, none of
// those keys' logs dropped an event after it (each key keeps its own
// Retention), and the stream's run started before it or those keys had no
// event since.
func (s *Stream) resolveLocked(lastEventID string, filter map[string]bool, head uint64) (uint64, *ResetInfo) {
	oldest := s.ring.oldest(head)
	if filter != nil {
		oldest = max(s.ring.first.Load(), 1) // each key's log starts at its oldest event
	}
	if lastEventID == "" {
		return head + 1, nil
	}
	if lastEventID == Earliest {
		return oldest, nil
	}
	seq, ok := ParseID(s.epoch, lastEventID)
	var reason ResetReason
	switch {
	case ok && seq > head && s.fedByLog:
		return seq + 1, nil // not here yet: deliver what follows it when it comes
	case !ok || seq > head:
		reason = ResetUnknown
	case s.missedSinceLocked(filter, seq, oldest):
		reason = ResetExpired
	default:
		return seq + 1, nil
	}
	start := oldest
	if reason == ResetExpired {
		start = max(oldest, seq+1) // what the client had is not sent again
	}
	rs := &ResetInfo{Reason: reason, LastEventID: lastEventID}
	if first := s.firstRetainedLocked(filter, start, head); first != 0 {
		rs.OldestID = FormatID(s.epoch, first)
	}
	return start, rs
}

// missedSinceLocked reports whether a subscriber with filter (nil: every key)
// that read up to seq has lost events: see resolveLocked. s.pubMu must be
// held.
func (s *Stream) missedSinceLocked(filter map[string]bool, seq, oldest uint64) bool {
	if filter == nil {
		return seq+1 < oldest || s.dropped > seq
	}
	for k := range filter {
		if kl := s.keys[k]; kl != nil && kl.dropped > seq {
			return true
		}
	}
	return seq+1 < oldest && !s.keysQuietSinceLocked(filter, seq)
}

// firstRetainedLocked returns the sequence number of the first retained
// event at or after start that filter (nil: every key) follows, or 0.
// s.pubMu must be held.
func (s *Stream) firstRetainedLocked(filter map[string]bool, start, head uint64) uint64 {
	if filter == nil {
		for seq := start; seq <= head; seq++ {
			if e := s.ring.get(seq); e != nil && e.frame != nil && !e.dropped.Load() {
				return seq
			}
		}
		return 0
	}
	var first uint64
	for k := range filter {
		kl := s.keys[k]
		if kl == nil {
			continue
		}
		if e := kl.events.get(kl.events.firstAtOrAfter(start)); e != nil && (first == 0 || e.seq < first) {
			first = e.seq
		}
	}
	return first
}

// keysQuietSinceLocked reports whether no key of filter has had an event
// after seq. s.pubMu must be held.
func (s *Stream) keysQuietSinceLocked(filter map[string]bool, seq uint64) bool {
	for k := range filter {
		if kl := s.keys[k]; kl != nil && kl.latest != nil && kl.latest.seq > seq {
			return false
		}
	}
	return true
}
