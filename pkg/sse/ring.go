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
	frame []byte
}

// ring keeps the last len(slots) entries, slot seq%len. One goroutine writes
// (under Stream.pubMu); any number read without locks: a reader that finds
// another sequence number in a slot knows its entry was overwritten.
type ring struct {
	slots []atomic.Pointer[entry]
}

func newRing(n int) ring { return ring{slots: make([]atomic.Pointer[entry], n)} }

func (r *ring) put(e *entry) { r.slots[e.seq%uint64(len(r.slots))].Store(e) }

// get returns the entry with sequence number seq, or nil if it is not (or no
// longer) retained.
func (r *ring) get(seq uint64) *entry {
	e := r.slots[seq%uint64(len(r.slots))].Load()
	if e == nil || e.seq != seq {
		return nil
	}
	return e
}

// oldest returns the oldest retained sequence number when head is the newest.
func (r *ring) oldest(head uint64) uint64 {
	if n := uint64(len(r.slots)); head > n {
		return head - n + 1
	}
	return 1
}
