package sse

import "sync/atomic"

// entry is one published event: its sequence number, ID, payload and the
// frame (its wire form), encoded once and shared by every subscriber.
// Entries are immutable once stored.
type entry struct {
	seq   uint64
	id    string
	typ   string
	key   string
	data  []byte
	frame []byte  // nil for a hole: a sequence number with no event, skipped by readers
	kl    *keyLog // the key's log (nil for a hole)
	kseq  uint64  // the event's place among its key's events, from 1
}

// ring keeps the last len(slots) entries of a stream, slot seq%len, for the
// subscribers that follow every key. One goroutine writes (under
// Stream.pubMu); any number read without locks: a reader that finds another
// sequence number in a slot knows its entry was overwritten.
type ring struct {
	slots []atomic.Pointer[entry]
	first atomic.Uint64 // the first sequence number of the ring's run (0: none); written under Stream.pubMu
}

func newRing(n int) ring { return ring{slots: make([]atomic.Pointer[entry], n)} }

// put stores e and returns the entry it pushed out of the ring, if any.
func (r *ring) put(e *entry) (dropped *entry) {
	if r.first.Load() == 0 {
		r.first.Store(e.seq)
	}
	return r.slots[e.seq%uint64(len(r.slots))].Swap(e)
}

// get returns the entry with sequence number seq, or nil if it is not (or no
// longer) retained.
func (r *ring) get(seq uint64) *entry {
	e := r.slots[seq%uint64(len(r.slots))].Load()
	if e == nil || e.seq != seq {
		return nil
	}
	return e
}

// oldest returns the oldest retained sequence number when head is the
// newest. Guarded by Stream.pubMu, like first.
func (r *ring) oldest(head uint64) uint64 {
	o := max(r.first.Load(), 1)
	if n := uint64(len(r.slots)); head > n {
		o = max(o, head-n+1)
	}
	return o
}
