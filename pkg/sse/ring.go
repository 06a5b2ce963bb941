package sse

import "sync/atomic"

// entry is one published event: its sequence number, ID, payload and the
// frame (its wire form), encoded once and shared by every subscriber.
// Entries are immutable once stored.
type entry struct {
	seq   uint64
	id    string
	typ   string
	data  []byte  // the payload: part of frame when it is one line
	frame []byte  // nil for a hole: a sequence number with no event, skipped by readers
	kl    *keyLog // the key's log (nil for a hole)
	kseq  uint64  // the event's place among its key's events, from 1

	// dropped is set when the event leaves its key's log (the key has had
	// Retention newer events): it is no longer retained, though the ring
	// may still point at it. The only field written after the event is
	// stored.
	dropped atomic.Bool
}

// ring keeps the newest events of a stream across its keys, slot seq%len,
// for the subscribers that follow every key: a power-of-two ring that grows
// with the number of keys, so that it spans the retention of every key (see
// Stream.growRingLocked). One goroutine writes (under Stream.pubMu); any
// number read without locks: a reader that finds another sequence number in
// a slot knows its entry was overwritten. An entry in the ring can still
// have left its key's log (entry.dropped).
type ring struct {
	slots atomic.Pointer[slots]
	first atomic.Uint64 // the first sequence number of the ring's run (0: none); written under Stream.pubMu
}

// slots is a ring's array; a grown ring gets a new one.
type slots struct{ s []atomic.Pointer[entry] }

// init gives the ring n slots (rounded up to a power of two).
func (r *ring) init(n int) { r.slots.Store(&slots{s: make([]atomic.Pointer[entry], ceilPow2(n))}) }

// size is how many entries the ring holds.
func (r *ring) size() int { return len(r.slots.Load().s) }

// put stores e and returns the entry it pushed out of the ring, if any.
func (r *ring) put(e *entry) (dropped *entry) {
	if r.first.Load() == 0 {
		r.first.Store(e.seq)
	}
	sl := r.slots.Load().s
	return sl[e.seq%uint64(len(sl))].Swap(e)
}

// get returns the entry with sequence number seq, or nil if it is not (or no
// longer) in the ring.
func (r *ring) get(seq uint64) *entry {
	sl := r.slots.Load().s
	e := sl[seq%uint64(len(sl))].Load()
	if e == nil || e.seq != seq {
		return nil
	}
	return e
}

// grow makes the ring n entries long (a power of two, larger than now),
// keeping the entries up to head. Readers that loaded the old array still
// find what it held.
func (r *ring) grow(n int, head uint64) {
	old := r.slots.Load().s
	sl := &slots{s: make([]atomic.Pointer[entry], n)}
	for seq := head - min(head, uint64(len(old))) + 1; seq <= head; seq++ {
		if e := old[seq%uint64(len(old))].Load(); e != nil && e.seq == seq {
			sl.s[seq%uint64(n)].Store(e)
		}
	}
	r.slots.Store(sl)
}

// oldest returns the oldest sequence number the ring spans when head is the
// newest. Guarded by Stream.pubMu, like first.
func (r *ring) oldest(head uint64) uint64 {
	o := max(r.first.Load(), 1)
	if n := uint64(r.size()); head > n {
		o = max(o, head-n+1)
	}
	return o
}
