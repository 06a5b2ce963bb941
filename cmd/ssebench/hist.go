package main

import (
	"math/bits"
	"sync/atomic"
	"time"
)

// Histogram is a log-linear histogram of durations in microseconds, like
// HdrHistogram with 64 sub-buckets per power of two: values below 128 µs are
// exact, larger ones are kept within 1/64 (1.6 %) of their value. Its memory
// is fixed (histBuckets counters) whatever the number of samples, and Record
// is safe for concurrent use (one atomic add).
type Histogram struct {
	counts [histBuckets]atomic.Uint64
	max    atomic.Uint64
}

const (
	histLinear  = 128 // values 0..127 µs have a bucket each
	histSub     = 64  // sub-buckets per power of two above that
	histMaxExp  = 34  // up to 2^41 µs (25 days); larger values are clamped
	histBuckets = histLinear + histMaxExp*histSub
)

// histIndex returns the bucket of v microseconds.
func histIndex(v uint64) int {
	if v < histLinear {
		return int(v)
	}
	e := bits.Len64(v) - 7 // v>>e is in [64, 128)
	if e > histMaxExp {
		return histBuckets - 1
	}
	return histLinear + (e-1)*histSub + int(v>>uint(e)) - histSub
}

// histValue returns a representative value of bucket i (its middle), in µs.
func histValue(i int) uint64 {
	if i < histLinear {
		return uint64(i)
	}
	e := (i-histLinear)/histSub + 1
	m := uint64((i-histLinear)%histSub + histSub)
	lo := m << uint(e)
	return lo + (uint64(1)<<uint(e))/2
}

// Record adds one duration (negative durations count as 0).
func (h *Histogram) Record(d time.Duration) {
	us := uint64(0)
	if d > 0 {
		us = uint64(d / time.Microsecond)
	}
	h.counts[histIndex(us)].Add(1)
	for {
		m := h.max.Load()
		if us <= m || h.max.CompareAndSwap(m, us) {
			return
		}
	}
}

// Snapshot copies the counts, and with reset set, zeroes them: every sample
// lands in exactly one snapshot.
func (h *Histogram) Snapshot(reset bool) *HistSnapshot {
	s := &HistSnapshot{}
	for i := range h.counts {
		var c uint64
		if reset {
			c = h.counts[i].Swap(0)
		} else {
			c = h.counts[i].Load()
		}
		s.Counts[i] = c
		s.N += c
	}
	if reset {
		s.MaxUS = h.max.Swap(0)
	} else {
		s.MaxUS = h.max.Load()
	}
	return s
}

// HistSnapshot is a histogram copied out for reading and merging.
type HistSnapshot struct {
	Counts [histBuckets]uint64
	N      uint64
	MaxUS  uint64
}

// Merge adds o's samples to s.
func (s *HistSnapshot) Merge(o *HistSnapshot) {
	for i, c := range o.Counts {
		s.Counts[i] += c
	}
	s.N += o.N
	s.MaxUS = max(s.MaxUS, o.MaxUS)
}

// Quantile returns the q-quantile (0 < q ≤ 1): the value of the sample of
// rank ceil(q·N), or 0 without samples. The maximum is exact.
func (s *HistSnapshot) Quantile(q float64) time.Duration {
	if s.N == 0 {
		return 0
	}
	if q >= 1 {
		return time.Duration(s.MaxUS) * time.Microsecond
	}
	rank := uint64(q*float64(s.N) + 0.999999999)
	rank = max(rank, 1)
	var seen uint64
	for i, c := range s.Counts {
		seen += c
		if seen >= rank {
			return time.Duration(min(histValue(i), s.MaxUS)) * time.Microsecond
		}
	}
	return time.Duration(s.MaxUS) * time.Microsecond
}

// Sparse returns the non-empty buckets as [index, count] pairs (for JSON).
func (s *HistSnapshot) Sparse() [][2]uint64 {
	var out [][2]uint64
	for i, c := range s.Counts {
		if c != 0 {
			out = append(out, [2]uint64{uint64(i), c})
		}
	}
	return out
}

// FromSparse rebuilds a snapshot from Sparse's pairs and the maximum.
func FromSparse(pairs [][2]uint64, maxUS uint64) *HistSnapshot {
	s := &HistSnapshot{MaxUS: maxUS}
	for _, p := range pairs {
		if p[0] < histBuckets {
			s.Counts[p[0]] += p[1]
			s.N += p[1]
		}
	}
	return s
}
