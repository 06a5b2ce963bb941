package sse

import "sort"

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
//
// A subscription to a set of keys is woken only by events of those keys and
// reads only them (keylog.go); one to every key reads the ring.
func (s *Stream) SubscribeWith(o SubscribeOptions) (*Subscription, error) {
	sub := &Subscription{
		stream:  s,
		wake:    make(chan struct{}, 1),
		done:    make(chan struct{}),
		onEvict: o.OnEvict,
	}
	keys := keySet(o.Keys)
	s.pubMu.Lock() // head, ring and keys hold still while we look
	defer s.pubMu.Unlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, ErrClosed
	}
	head := s.head.Load()
	start, reset := s.resolveLocked(o.LastEventID, keys, head)
	sub.Reset = reset
	if keys == nil {
		if o.LastEventID == "" {
			for _, kl := range s.keys {
				if kl.latest != nil {
					sub.initial = append(sub.initial, kl.latest)
				}
			}
		} else {
			for seq := start; seq <= head; seq++ {
				if e := s.ring.get(seq); e != nil && e.frame != nil && !e.dropped.Load() {
					sub.Backlog++
				}
			}
		}
		sub.allIdx = len(s.unfiltered)
		s.unfiltered = append(s.unfiltered, sub)
	} else {
		sub.follows = make([]keyCursor, 0, len(keys))
		for k := range keys {
			kl := s.keyLogLocked(k)
			f := keyCursor{kl: kl, next: kl.events.n.Load() + 1}
			if o.LastEventID == "" {
				if kl.latest != nil {
					sub.initial = append(sub.initial, kl.latest)
				}
			} else {
				f.next = kl.events.firstAtOrAfter(start)
				sub.Backlog += int(kl.events.n.Load() + 1 - f.next)
			}
			if kl.followers == nil {
				kl.followers = make(map[*Subscription]struct{})
			}
			kl.followers[sub] = struct{}{}
			sub.follows = append(sub.follows, f)
		}
	}
	sort.Slice(sub.initial, func(i, j int) bool { return sub.initial[i].seq < sub.initial[j].seq })
	sub.cursor.Store(start)
	sub.live = head
	sub.skipDropped = s.dropped
	s.subs[sub] = struct{}{}
	s.m.subscribers.Inc()
	return sub, nil
}

// removeLocked takes sub out of the stream's sets; it reports whether sub
// was still in them. s.mu must be held.
func (s *Stream) removeLocked(sub *Subscription) bool {
	if _, ok := s.subs[sub]; !ok {
		return false
	}
	delete(s.subs, sub)
	s.m.subscribers.Dec()
	if sub.follows == nil {
		last := len(s.unfiltered) - 1
		moved := s.unfiltered[last]
		s.unfiltered[sub.allIdx] = moved
		moved.allIdx = sub.allIdx
		s.unfiltered[last] = nil
		s.unfiltered = s.unfiltered[:last]
	}
	for i := range sub.follows { // by index: next is the reader's to write
		delete(sub.follows[i].kl.followers, sub)
	}
	return true
}

// evictLocked ends sub with err. s.mu must be held.
func (s *Stream) evictLocked(sub *Subscription, err error) {
	if !s.removeLocked(sub) {
		return
	}
	sub.err = err
	sub.ended.Store(true)
	close(sub.done)
	sub.notify() // a writer waiting for a wake-up learns of the end too
	// Only a slow subscriber's writer is interrupted: at Close, writers end
	// their responses cleanly (a blocked one is bounded by its deadline).
	if err == ErrSlow && sub.onEvict != nil {
		sub.onEvict()
	}
}

// Close unsubscribes. After it returns, onEvict is not called.
func (sub *Subscription) Close() {
	s := sub.stream
	if sub.follows != nil {
		s.pubMu.Lock() // to forget the keys that only this subscription named
		defer s.pubMu.Unlock()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.removeLocked(sub)
	sub.onEvict = nil
	for i := range sub.follows {
		if kl := sub.follows[i].kl; kl.latest == nil && len(kl.followers) == 0 && s.keys[kl.key] == kl {
			delete(s.keys, kl.key)
		}
	}
}
