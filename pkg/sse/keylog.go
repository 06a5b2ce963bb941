package sse

import "sync/atomic"

// keyLog is one key's part of a stream: its retained events in order, its
// newest event, and the subscriptions that follow it. It is what makes a
// published event cost work only for the subscriptions that receive it: a
// publish visits the followers of its key (and the subscriptions of every
// key), and a follower reads its key's events without stepping over those of
// other keys.
//
// A stream's keyLogs live in Stream.keys (under Stream.pubMu). A keyLog
// retains its key's newest Retention events: retention is per key, so adding
// keys never shortens what one key's followers can resume. followers is
// guarded by Stream.mu.
type keyLog struct {
	key       string
	events    keyRing
	latest    *entry // the key's newest event, nil before its first; under pubMu
	dropped   uint64 // the sequence number of the newest event the log dropped (0: none); under pubMu
	followers map[*Subscription]struct{}

	// batch bookkeeping of PublishBatch, under pubMu.
	batchGen uint64
	batchN   int
}

// keyRing holds a key's retained events by their place among the key's
// events (entry.kseq), in a power-of-two ring that grows up to the stream's
// retention. One goroutine writes (under Stream.pubMu); readers read without
// locks, like the stream's ring: a slot holding another kseq, or nil, means
// the event is gone.
//
// The live entries are always the newest ones: kseq n-live+1 … n.
type keyRing struct {
	slots atomic.Pointer[keySlots]
	n     atomic.Uint64 // events ever put: the newest's kseq (0 before any)
	live  int           // entries put and not yet dropped; under pubMu
	limit int           // most entries it keeps: the stream's retention
}

type keySlots struct{ s []atomic.Pointer[entry] }

const minKeySlots = 8

// put appends e (setting e.kseq) and returns the event it dropped to stay
// within its limit, if any. Call it before publishing the stream's new head,
// so that a reader that sees the head sees e.
func (r *keyRing) put(e *entry) (dropped *entry) {
	sl := r.slots.Load()
	n := r.n.Load()
	if r.live >= r.limit && r.live > 0 { // full: the oldest gives way
		oldest := n - uint64(r.live) + 1
		dropped = sl.s[oldest%uint64(len(sl.s))].Swap(nil)
		r.live--
	}
	if sl == nil || r.live+1 > len(sl.s) {
		sl = r.grow(sl)
	}
	e.kseq = n + 1
	sl.s[e.kseq%uint64(len(sl.s))].Store(e)
	r.live++
	r.n.Store(e.kseq)
	return dropped
}

// grow copies the live entries into a ring twice as large (at least
// minKeySlots, at most the limit rounded up to a power of two) and makes it
// current.
func (r *keyRing) grow(old *keySlots) *keySlots {
	size := minKeySlots
	if old != nil {
		size = 2 * len(old.s)
	}
	size = max(min(size, ceilPow2(r.limit)), 1)
	sl := &keySlots{s: make([]atomic.Pointer[entry], size)}
	if old != nil {
		n := r.n.Load()
		for k := n - uint64(r.live) + 1; k <= n; k++ {
			if e := old.s[k%uint64(len(old.s))].Load(); e != nil {
				sl.s[k%uint64(size)].Store(e)
			}
		}
	}
	r.slots.Store(sl)
	return sl
}

// get returns the key's event kseq, or nil if it is gone (or not yet put).
func (r *keyRing) get(kseq uint64) *entry {
	sl := r.slots.Load()
	if sl == nil {
		return nil
	}
	e := sl.s[kseq%uint64(len(sl.s))].Load()
	if e == nil || e.kseq != kseq {
		return nil
	}
	return e
}

// firstAtOrAfter returns the kseq of the key's oldest live event whose
// stream sequence number is at least seq, or n+1 when there is none. Under
// Stream.pubMu.
func (r *keyRing) firstAtOrAfter(seq uint64) uint64 {
	n := r.n.Load()
	lo, hi := n-uint64(r.live)+1, n+1 // the answer is in [lo, hi]
	for lo < hi {
		mid := lo + (hi-lo)/2
		if e := r.get(mid); e != nil && e.seq >= seq {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	return lo
}

func ceilPow2(n int) int {
	p := 1
	for p < n {
		p *= 2
	}
	return p
}
