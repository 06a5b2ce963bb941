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

func (e *entry) item() Item { return Item{ID: e.id, Type: e.typ, Key: e.key, Data: e.data} }

// LastID returns the ID of the newest event, or "" before the first.
func (s *Stream) LastID() string {
	s.pubMu.Lock()
	defer s.pubMu.Unlock()
	if h := s.head.Load(); h > 0 {
		return FormatID(s.epoch, h)
	}
	return ""
}

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
	var reason ResetReason
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
		if kl := s.keys[k]; kl != nil && kl.latest != nil && kl.latest.seq > seq {
			return false
		}
	}
	return true
}
