package main

import (
	"bytes"
	"net/http"
	"slices"
	"sort"
)

// received is one subscriber's record of the IDs it got, for the loss
// accounting against the poster's answers: the numeric suffixes of one
// prefix (epoch), kept sorted (one stream sends them in increasing order).
// Counting gaps between consecutive IDs, as idTracker does, cannot work
// under a ?sensor= filter: a filtered subscriber's IDs are not consecutive.
type received struct {
	have   bool
	prefix []byte
	seqs   []uint64
	dup    uint64 // the same ID again
	other  uint64 // IDs of another prefix, or without a numeric suffix
}

// see records the ID of one received event.
func (rc *received) see(id []byte) {
	pre, seq, ok := splitID(id)
	if !ok {
		rc.other++
		return
	}
	if !rc.have {
		rc.have, rc.prefix = true, append([]byte(nil), pre...)
	} else if !bytes.Equal(pre, rc.prefix) {
		rc.other++
		return
	}
	if n := len(rc.seqs); n == 0 || seq > rc.seqs[n-1] {
		rc.seqs = append(rc.seqs, seq)
		return
	}
	i, found := slices.BinarySearch(rc.seqs, seq)
	if found {
		rc.dup++
		return
	}
	rc.seqs = slices.Insert(rc.seqs, i, seq)
}

// ledger indexes the poster's accepted readings by sensor, in send order,
// and by sequence number.
type ledger struct {
	prefix   string
	all      []post   // sorted by send time
	bySensor [][]post // the same, per sensor
	bySeq    map[uint64]post
}

// newLedger keeps the accepted posts (202, with an ID of prefix).
func newLedger(posts []post, sensors int, prefix string) *ledger {
	l := &ledger{prefix: prefix, bySensor: make([][]post, sensors), bySeq: make(map[uint64]post, len(posts))}
	for _, p := range posts {
		if p.status == http.StatusAccepted && int(p.sensor) < sensors {
			l.all = append(l.all, p)
		}
	}
	sort.Slice(l.all, func(i, j int) bool { return l.all[i].sent < l.all[j].sent })
	for _, p := range l.all {
		l.bySensor[p.sensor] = append(l.bySensor[p.sensor], p)
		l.bySeq[p.seq] = p
	}
	return l
}

// account compares one subscriber's IDs with what it should have got:
// every accepted reading of the sensor it follows (follow < 0: of every
// sensor) sent at or after since (Unix nanoseconds: when its first stream's
// head arrived, so after the server had subscribed it). It returns how many
// readings it expected, how many of those it got, and how many it got of
// sensors it does not follow (a filter letting others through). IDs the
// poster never got back (another publisher's) are ignored.
func (l *ledger) account(follow int, since int64, rc *received) (expected, got, foreign uint64) {
	list := l.all
	if follow >= 0 {
		if follow >= len(l.bySensor) {
			return 0, 0, 0
		}
		list = l.bySensor[follow]
	}
	i := sort.Search(len(list), func(i int) bool { return list[i].sent >= since })
	expected = uint64(len(list) - i)
	if !rc.have || string(rc.prefix) != l.prefix {
		return expected, 0, 0
	}
	for _, seq := range rc.seqs {
		p, ok := l.bySeq[seq]
		switch {
		case !ok:
		case follow >= 0 && int(p.sensor) != follow:
			foreign++
		case p.sent >= since:
			got++
		}
	}
	return expected, got, foreign
}
