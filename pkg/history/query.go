package history

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"
)

// Limits of a query.
const (
	// MaxPoints is the most buckets a series may be asked for.
	MaxPoints = 2000
	// DefaultPoints is the number of buckets asked for when none is given.
	DefaultPoints = 500
	// MaxRawBucketed is the most readings fetched raw to bucket them under
	// a minute; past it, buckets are whole minutes of summaries.
	MaxRawBucketed = 20000
	// MaxSpan is the longest range a query may cover.
	MaxSpan = 100 * 365 * 24 * time.Hour
)

// Source says what a series' points were computed from.
type Source string

// The sources of a series.
const (
	SourceRaw    Source = "raw"    // the stored readings
	SourceMinute Source = "minute" // the minute summaries
	SourceHour   Source = "hour"   // the hour summaries
)

// Request is a history query.
type Request struct {
	Sensors  []string  // one series each, in this order
	From, To time.Time // the range [From, To), taken to the millisecond
	Points   int       // the most buckets per series, 1 to MaxPoints
}

// Answer is the history of Request's sensors over [From, To).
type Answer struct {
	// From and To are the range asked for, truncated to the millisecond
	// (in UTC). A series' buckets are aligned to its width, so the first
	// may start before From and the last end after To: each counts every
	// stored reading in it, edges included.
	From, To time.Time
	History  string // the store's Kind: "memory" or "jetstream"
	Series   []Series
}

// Series is one sensor's history.
type Series struct {
	Sensor string
	// Width is the buckets' width; 0 when each point is one reading (at
	// most Points readings in the range, all of them stored raw).
	Width  time.Duration
	Source Source
	Points []Point // oldest first; empty buckets are left out
}

// Point is one bucket: the readings taken in [T, T+Width) (for a raw
// series, the one reading taken at T).
type Point struct {
	T             time.Time
	Min, Avg, Max float64
	Count         int64
}

// Query answers q from st, one series per sensor.
//
// For each sensor, when the store holds every reading of [From, To) raw
// and there are at most Points of them, each reading is its own point.
// Otherwise the points are buckets of one width W, edges at multiples of W
// since the Unix epoch, W the smallest width such that at most Points
// buckets cover [From, To), among:
//
//   - whole seconds under a minute, from the raw readings, when the store
//     holds every reading of the covered range and there are at most
//     MaxRawBucketed of them;
//   - else whole minutes under an hour, from the minute summaries;
//   - else whole hours, from the hour summaries.
//
// So a summary is never split between buckets, and each bucket's minimum,
// mean, maximum and count are exact. One exception to the rule: when the
// store no longer holds the readings raw but its summaries count at most
// Points readings in the range, the buckets are single minutes (so nearly
// each reading is its own point, at the start of its minute).
//
// Invalid requests return a *RequestError.
func Query(ctx context.Context, st Store, q Request) (Answer, error) {
	from, to := q.From.Truncate(time.Millisecond).UTC(), q.To.Truncate(time.Millisecond).UTC()
	switch {
	case q.Points < 1 || q.Points > MaxPoints:
		return Answer{}, &RequestError{Field: "points", Problem: fmt.Sprintf("%d is not from 1 to %d", q.Points, MaxPoints)}
	case from.Before(time.Unix(0, 0)):
		return Answer{}, &RequestError{Field: "from", Problem: "must not be before 1970-01-01T00:00:00Z"}
	case !from.Before(to):
		return Answer{}, &RequestError{Field: "from", Problem: fmt.Sprintf("%s is not before to %s", from.Format(time.RFC3339Nano), to.Format(time.RFC3339Nano))}
	case to.Sub(from) > MaxSpan:
		return Answer{}, &RequestError{Field: "to", Problem: fmt.Sprintf("the range is longer than %d days", MaxSpan/(24*time.Hour))}
	}
	ans := Answer{From: from, To: to, History: st.Kind(), Series: make([]Series, 0, len(q.Sensors))}
	for _, sensor := range q.Sensors {
		s, err := query(ctx, st, sensor, from, to, q.Points)
		if err != nil {
			return Answer{}, fmt.Errorf("history of %s: %w", sensor, err)
		}
		ans.Series = append(ans.Series, s)
	}
	return ans, nil
}

// query answers one sensor's series; from and to are whole milliseconds.
func query(ctx context.Context, st Store, sensor string, from, to time.Time, points int) (Series, error) {
	f, t := from.UnixMilli(), to.UnixMilli()
	raw, complete, err := st.Raw(ctx, sensor, from, to, points+1)
	if err != nil {
		return Series{}, err
	}
	if complete && len(raw) <= points {
		return rawSeries(sensor, raw), nil
	}
	if complete {
		if w := smallestWidth(f, t, second, points); w < minute {
			lo, hi := cover(f, t, w)
			rs, ok, err := st.Raw(ctx, sensor, time.UnixMilli(lo), time.UnixMilli(hi), MaxRawBucketed+1)
			if err != nil {
				return Series{}, err
			}
			if ok && len(rs) <= MaxRawBucketed {
				return bucketRaw(sensor, rs, w), nil
			}
		}
	}
	w, g := smallestWidth(f, t, minute, points), Minute
	if w >= hour {
		w, g = smallestWidth(f, t, hour, points), Hour
	}
	if !complete && w > minute {
		// The readings are no longer stored raw: if the summaries count
		// few enough, answer by the minute.
		lo, hi := cover(f, t, hour)
		bs, err := st.Summaries(ctx, sensor, Hour, time.UnixMilli(lo), time.UnixMilli(hi))
		if err != nil {
			return Series{}, err
		}
		var n int64
		for _, b := range bs {
			n += b.Count
		}
		if n <= int64(points) {
			w, g = minute, Minute
		}
	}
	lo, hi := cover(f, t, w)
	bs, err := st.Summaries(ctx, sensor, g, time.UnixMilli(lo), time.UnixMilli(hi))
	if err != nil {
		return Series{}, err
	}
	src := SourceMinute
	if g == Hour {
		src = SourceHour
	}
	return bucketSummaries(sensor, bs, w, src), nil
}

// smallestWidth returns the smallest whole multiple of unit (ms) such that
// at most points buckets of that width, aligned to the epoch, cover
// [from, to) (ms, 0 <= from < to). The bucket count is not monotonic in
// the width, hence the walk; it ends by (to-from)/(points-1) (for points
// of 2 or more: then at most points-1 whole widths fit in the range) or,
// for one point, by a width above to.
func smallestWidth(from, to, unit int64, points int) int64 {
	p := int64(points)
	for k := max(ceilDiv(to-from, p*unit), 1); ; k++ {
		w := k * unit
		if floorDiv(to-1, w)-floorDiv(from, w)+1 <= p {
			return w
		}
	}
}

// cover returns the edges of the buckets of width w that cover [from, to).
func cover(from, to, w int64) (lo, hi int64) {
	return floorDiv(from, w) * w, (floorDiv(to-1, w) + 1) * w
}

// rawSeries makes each reading a point.
func rawSeries(sensor string, rs []Sample) Series {
	s := Series{Sensor: sensor, Source: SourceRaw, Points: make([]Point, 0, len(rs))}
	rs = sortedSamples(rs)
	for _, r := range rs {
		s.Points = append(s.Points, Point{T: r.At.UTC(), Min: r.Celsius, Avg: r.Celsius, Max: r.Celsius, Count: 1})
	}
	return s
}

// acc accumulates one bucket.
type acc struct {
	idx           int64 // the bucket's start / width
	min, max, sum float64
	count         int64
}

func (a *acc) add(lo, hi, sum float64, count int64) {
	if a.count == 0 {
		a.min, a.max = lo, hi
	} else {
		a.min, a.max = min(a.min, lo), max(a.max, hi)
	}
	a.sum += sum
	a.count += count
}

func (a acc) point(w int64) Point {
	return Point{T: time.UnixMilli(a.idx * w).UTC(), Min: a.min, Avg: a.sum / float64(a.count), Max: a.max, Count: a.count}
}

// bucketRaw groups readings into buckets of width w (ms).
func bucketRaw(sensor string, rs []Sample, w int64) Series {
	s := Series{Sensor: sensor, Width: time.Duration(w) * time.Millisecond, Source: SourceRaw, Points: []Point{}}
	var cur acc
	for _, r := range sortedSamples(rs) {
		idx := floorDiv(r.At.UnixMilli(), w)
		if cur.count > 0 && idx != cur.idx {
			s.Points = append(s.Points, cur.point(w))
			cur = acc{}
		}
		cur.idx = idx
		cur.add(r.Celsius, r.Celsius, r.Celsius, 1)
	}
	if cur.count > 0 {
		s.Points = append(s.Points, cur.point(w))
	}
	return s
}

// bucketSummaries merges summaries into buckets of width w (ms), a whole
// multiple of theirs.
func bucketSummaries(sensor string, bs []Bucket, w int64, src Source) Series {
	s := Series{Sensor: sensor, Width: time.Duration(w) * time.Millisecond, Source: src, Points: []Point{}}
	if !slices.IsSortedFunc(bs, func(a, b Bucket) int { return a.Start.Compare(b.Start) }) {
		bs = slices.Clone(bs)
		slices.SortStableFunc(bs, func(a, b Bucket) int { return a.Start.Compare(b.Start) })
	}
	var cur acc
	for _, b := range bs {
		if b.Count <= 0 {
			continue
		}
		idx := floorDiv(b.Start.UnixMilli(), w)
		if cur.count > 0 && idx != cur.idx {
			s.Points = append(s.Points, cur.point(w))
			cur = acc{}
		}
		cur.idx = idx
		cur.add(b.Min, b.Max, b.Sum, b.Count)
	}
	if cur.count > 0 {
		s.Points = append(s.Points, cur.point(w))
	}
	return s
}

// sortedSamples returns rs oldest first (rs itself when it already is).
func sortedSamples(rs []Sample) []Sample {
	byTime := func(a, b Sample) int { return cmp.Or(a.At.Compare(b.At), cmp.Compare(a.Seq, b.Seq)) }
	if slices.IsSortedFunc(rs, byTime) {
		return rs
	}
	rs = slices.Clone(rs)
	slices.SortStableFunc(rs, byTime)
	return rs
}
