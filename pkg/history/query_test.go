package history

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

// mustQuery runs a query that must succeed.
func mustQuery(t testing.TB, st Store, q Request) Answer {
	t.Helper()
	a, err := Query(context.Background(), st, q)
	if err != nil {
		t.Fatalf("Query(%v … %v, %d points): %v", q.From, q.To, q.Points, err)
	}
	return a
}

// pt is a point written compactly for the tests' wants.
func pt(t time.Time, lo, avg, hi float64, n int64) Point {
	return Point{T: t, Min: lo, Avg: avg, Max: hi, Count: n}
}

// checkSeries fails unless s has the width, source and points given.
func checkSeries(t testing.TB, s Series, width time.Duration, src Source, want ...Point) {
	t.Helper()
	if s.Width != width || s.Source != src {
		t.Errorf("series %s: width %v from %s, want %v from %s", s.Sensor, s.Width, s.Source, width, src)
	}
	if s.Points == nil {
		t.Errorf("series %s: nil points, want an empty list at least", s.Sensor)
	}
	same := func(a, b Point) bool {
		return a.T.Equal(b.T) && a.Min == b.Min && a.Avg == b.Avg && a.Max == b.Max && a.Count == b.Count
	}
	if !slices.EqualFunc(s.Points, want, same) {
		t.Errorf("series %s:\n got %s\nwant %s", s.Sensor, fmtPoints(s.Points), fmtPoints(want))
	}
}

func fmtPoints(ps []Point) string {
	var b strings.Builder
	for _, p := range ps {
		fmt.Fprintf(&b, "[%s %g/%g/%g ×%d] ", p.T.Format("15:04:05.000"), p.Min, p.Avg, p.Max, p.Count)
	}
	return b.String()
}

// TestQueryRawWhenFew: at most points readings in the range, all stored
// raw: each reading is its own point, at its own time.
func TestQueryRawWhenFew(t *testing.T) {
	r := newRecorder(MemoryOptions{})
	r.add("a", at(t, "00:00:10"), 20)
	r.add("a", at(t, "00:01:10").Add(250*time.Millisecond), 21.5)
	r.add("a", at(t, "00:02:10"), 19.25)
	r.add("a", at(t, "01:00:00"), 30) // at to: outside [from, to)
	r.add("b", at(t, "00:30:00"), 5)
	for _, points := range []int{3, 10, MaxPoints} {
		a := mustQuery(t, r.m, Request{Sensors: []string{"a", "b", "nobody"}, From: day0, To: at(t, "01:00:00"), Points: points})
		if len(a.Series) != 3 || a.History != "memory" || !a.From.Equal(day0) || !a.To.Equal(at(t, "01:00:00")) {
			t.Fatalf("%d points: answer %+v", points, a)
		}
		checkSeries(t, a.Series[0], 0, SourceRaw,
			pt(at(t, "00:00:10"), 20, 20, 20, 1),
			pt(at(t, "00:01:10").Add(250*time.Millisecond), 21.5, 21.5, 21.5, 1),
			pt(at(t, "00:02:10"), 19.25, 19.25, 19.25, 1))
		checkSeries(t, a.Series[1], 0, SourceRaw, pt(at(t, "00:30:00"), 5, 5, 5, 1))
		checkSeries(t, a.Series[2], 0, SourceRaw) // a range with no reading
	}
	// Two points for three readings: 3,600 s / 2 is at least a minute, so
	// whole minutes: 30 (2025-03-01 is a multiple of 30 minutes), 2
	// buckets, the first holding all three.
	a := mustQuery(t, r.m, Request{Sensors: []string{"a"}, From: day0, To: at(t, "01:00:00"), Points: 2})
	checkSeries(t, a.Series[0], 30*time.Minute, SourceMinute, pt(day0, 19.25, (20+21.5+19.25)/3.0, 21.5, 3))
}

// TestQueryBucketEdges: a reading every minute at :30, 20 + m/4 °C in
// minute m; [00:10, 00:52) in 4 points. 42 readings: more than 4. Whole
// minutes (2,520 s / 4 is over a minute): 11 minutes gives 5 buckets (edges
// at 00:07, 00:18, … 00:51, as the day's minute 29,013,120 is 4 past a
// multiple of 11), 12 gives 5 (00:00 … 00:48), 13 gives 4: the day starts 6
// minutes past a multiple of 13, so the edges are 00:07, 00:20, 00:33,
// 00:46 and 00:59. The first bucket starts before from and the last ends
// after to; each counts every reading in it.
func TestQueryBucketEdges(t *testing.T) {
	r := newRecorder(MemoryOptions{})
	for m := range 60 {
		r.add("s", day0.Add(time.Duration(m)*time.Minute+30*time.Second), 20+float64(m)/4)
	}
	a := mustQuery(t, r.m, Request{Sensors: []string{"s"}, From: at(t, "00:10:00"), To: at(t, "00:52:00"), Points: 4})
	if !a.From.Equal(at(t, "00:10:00")) || !a.To.Equal(at(t, "00:52:00")) {
		t.Errorf("answer's range %v … %v, want the one asked", a.From, a.To)
	}
	// Minutes 7 to 19: mean of m is 13, so 20 + 13/4; and so on.
	checkSeries(t, a.Series[0], 13*time.Minute, SourceMinute,
		pt(at(t, "00:07:00"), 20+7.0/4, 20+13.0/4, 20+19.0/4, 13),
		pt(at(t, "00:20:00"), 20+20.0/4, 20+26.0/4, 20+32.0/4, 13),
		pt(at(t, "00:33:00"), 20+33.0/4, 20+39.0/4, 20+45.0/4, 13),
		pt(at(t, "00:46:00"), 20+46.0/4, 20+52.0/4, 20+58.0/4, 13))
}

// TestQueryUnderAMinute: 60 readings a second apart in one minute, 10
// points: 6 s buckets from the raw readings, 6 readings each.
func TestQueryUnderAMinute(t *testing.T) {
	r := newRecorder(MemoryOptions{})
	for i := range 60 {
		r.add("s", day0.Add(time.Duration(i)*time.Second), float64(i))
	}
	a := mustQuery(t, r.m, Request{Sensors: []string{"s"}, From: day0, To: at(t, "00:01:00"), Points: 10})
	var want []Point
	for j := range 10 {
		lo := float64(6 * j)
		want = append(want, pt(day0.Add(time.Duration(6*j)*time.Second), lo, lo+2.5, lo+5, 6))
	}
	checkSeries(t, a.Series[0], 6*time.Second, SourceRaw, want...)

	// 25 s in 7 points: 4 s gives 7 buckets (edges at multiples of 4 s:
	// 00:00:04 … 00:00:28 for [00:00:05, 00:00:30)), with 00:00:04 counted.
	a = mustQuery(t, r.m, Request{Sensors: []string{"s"}, From: at(t, "00:00:05"), To: at(t, "00:00:30"), Points: 7})
	want = nil
	for j := range 7 {
		lo := 4 + 4*j
		want = append(want, pt(day0.Add(time.Duration(lo)*time.Second), float64(lo), float64(lo)+1.5, float64(lo+3), 4))
	}
	checkSeries(t, a.Series[0], 4*time.Second, SourceRaw, want...)

	// The same minute when only the latest 30 readings are kept raw: the
	// range is not complete, so one minute summary.
	r = newRecorder(MemoryOptions{RawPerSensor: 30})
	for i := range 60 {
		r.add("s", day0.Add(time.Duration(i)*time.Second), float64(i))
	}
	a = mustQuery(t, r.m, Request{Sensors: []string{"s"}, From: day0, To: at(t, "00:01:00"), Points: 10})
	checkSeries(t, a.Series[0], time.Minute, SourceMinute, pt(day0, 0, 29.5, 59, 60))
}

// TestQueryTooManyToFetchRaw: over MaxRawBucketed readings in the covered
// range are not fetched raw: whole minutes instead.
func TestQueryTooManyToFetchRaw(t *testing.T) {
	n := MaxRawBucketed + 5
	r := newRecorder(MemoryOptions{RawPerSensor: n})
	for i := range n {
		r.add("s", day0.Add(time.Duration(2*i)*time.Millisecond), 1) // 40 s
	}
	a := mustQuery(t, r.m, Request{Sensors: []string{"s"}, From: day0, To: at(t, "00:01:00"), Points: 10})
	checkSeries(t, a.Series[0], time.Minute, SourceMinute, pt(day0, 1, 1, 1, int64(n)))
}

// TestQueryHourOrMinute: widths of an hour or more are whole hours, read
// from the hour summaries; under an hour, whole minutes.
func TestQueryHourOrMinute(t *testing.T) {
	r := newRecorder(MemoryOptions{})
	for _, x := range []struct {
		hms string
		c   float64
	}{
		{"00:10:00", 10}, {"00:50:00", 12}, {"01:30:00", 14}, {"01:50:00", 16}, // [00:00, 02:00)
		{"02:00:00", 20}, {"03:59:59", 21}, // [02:00, 04:00)
		{"05:00:00", 30}, {"05:59:59", 33}, // [04:00, 06:00)
	} {
		r.add("s", at(t, x.hms), x.c)
	}
	// 6 h in 3 points: 120 minutes would do; it is an hour or more, so 2 h.
	a := mustQuery(t, r.m, Request{Sensors: []string{"s"}, From: day0, To: at(t, "06:00:00"), Points: 3})
	checkSeries(t, a.Series[0], 2*time.Hour, SourceHour,
		pt(day0, 10, 13, 16, 4),
		pt(at(t, "02:00:00"), 20, 20.5, 21, 2),
		pt(at(t, "04:00:00"), 30, 31.5, 33, 2))
	// 3 h in 2 points: 90 minutes would do (the day is a multiple of 90
	// minutes), but widths of an hour or more are whole hours: 2 h.
	a = mustQuery(t, r.m, Request{Sensors: []string{"s"}, From: day0, To: at(t, "03:00:00"), Points: 2})
	checkSeries(t, a.Series[0], 2*time.Hour, SourceHour,
		pt(day0, 10, 13, 16, 4),
		pt(at(t, "02:00:00"), 20, 20.5, 21, 2)) // 03:59:59 is in [02:00, 04:00)
	// 2 h in 3 points: 40 minutes (a divisor of a day), from minute
	// summaries.
	a = mustQuery(t, r.m, Request{Sensors: []string{"s"}, From: day0, To: at(t, "02:00:00"), Points: 3})
	checkSeries(t, a.Series[0], 40*time.Minute, SourceMinute,
		pt(day0, 10, 10, 10, 1),
		pt(at(t, "00:40:00"), 12, 12, 12, 1),
		pt(at(t, "01:20:00"), 14, 15, 16, 2))
}

// TestQueryFewButNotRaw: when the readings are no longer held raw but the
// summaries count at most points of them, the buckets are single minutes.
func TestQueryFewButNotRaw(t *testing.T) {
	r := newRecorder(MemoryOptions{RawPerSensor: 2})
	r.add("s", at(t, "00:00:10"), 1)
	r.add("s", at(t, "05:00:20"), 2)
	r.add("s", at(t, "10:00:30"), 3) // drops 00:00:10 from raw
	a := mustQuery(t, r.m, Request{Sensors: []string{"s"}, From: day0, To: at(t, "24:00:00"), Points: 500})
	checkSeries(t, a.Series[0], time.Minute, SourceMinute,
		pt(day0, 1, 1, 1, 1),
		pt(at(t, "05:00:00"), 2, 2, 2, 1),
		pt(at(t, "10:00:00"), 3, 3, 3, 1))
	// From after the dropped reading: complete again, so raw.
	a = mustQuery(t, r.m, Request{Sensors: []string{"s"}, From: at(t, "00:00:11"), To: at(t, "24:00:00"), Points: 500})
	checkSeries(t, a.Series[0], 0, SourceRaw, pt(at(t, "05:00:20"), 2, 2, 2, 1), pt(at(t, "10:00:30"), 3, 3, 3, 1))
	// 24 h in 2 points, many readings not raw: whole hours (12 h).
	for i := range 100 {
		r.add("s", at(t, "12:00:00").Add(time.Duration(i)*time.Second), 4)
	}
	a = mustQuery(t, r.m, Request{Sensors: []string{"s"}, From: day0, To: at(t, "24:00:00"), Points: 2})
	checkSeries(t, a.Series[0], 12*time.Hour, SourceHour, pt(day0, 1, 2, 3, 3), pt(at(t, "12:00:00"), 4, 4, 4, 100))
}

// TestQueryRequestErrors: what Query refuses, naming the parameter.
func TestQueryRequestErrors(t *testing.T) {
	st := NewMemory(MemoryOptions{})
	for _, tc := range []struct {
		q     Request
		field string
	}{
		{Request{From: day0, To: now0, Points: 0}, "points"},
		{Request{From: day0, To: now0, Points: MaxPoints + 1}, "points"},
		{Request{From: day0, To: day0, Points: 1}, "from"},
		{Request{From: now0, To: day0, Points: 1}, "from"},
		{Request{From: day0, To: day0.Add(time.Microsecond), Points: 1}, "from"}, // the same millisecond
		{Request{From: time.Unix(-1, 0), To: now0, Points: 1}, "from"},
		{Request{From: time.Unix(0, 0), To: time.Unix(0, 0).Add(MaxSpan + time.Millisecond), Points: 1}, "to"},
	} {
		_, err := Query(context.Background(), st, tc.q)
		var re *RequestError
		if !errors.As(err, &re) || re.Field != tc.field || re.Problem == "" {
			t.Errorf("Query(%v … %v, %d points): %v, want a RequestError for %s", tc.q.From, tc.q.To, tc.q.Points, err, tc.field)
		}
	}
}

// TestSmallestWidth checks the width rule on cases counted by hand
// (buckets [k·w, (k+1)·w)), one of them where the count of buckets is not
// monotonic in the width.
func TestSmallestWidth(t *testing.T) {
	for _, tc := range []struct {
		from, to, unit int64
		points         int
		want           int64
	}{
		{0, 100, 1, 10, 10}, // [0,10) … [90,100): 10 buckets
		{5, 105, 1, 10, 11}, // 10: [0,10) … [100,110) is 11; 11: [0,11) … [99,110) is 10
		// One bucket for 9…12: 4 ([8,12),[12,16)), 5 and 6 split it, 7
		// ([7,14)) does not; 10 would again ([0,10),[10,20)).
		{9, 13, 1, 1, 7},
		{9, 13, 1, 2, 3}, // 2: [8,10),[10,12),[12,14) is 3; 3: [9,12),[12,15) is 2
		{0, 60 * second, second, 10, 6 * second},
		{100, 101, 7, 1, 7}, // one millisecond: the bucket [98,105)
		{0, 3 * hour, minute, 2, 90 * minute},
		{0, 3 * hour, hour, 2, 2 * hour},
	} {
		if got := smallestWidth(tc.from, tc.to, tc.unit, tc.points); got != tc.want {
			t.Errorf("smallestWidth(%d, %d, unit %d, %d points) = %d, want %d", tc.from, tc.to, tc.unit, tc.points, got, tc.want)
		}
	}
	if got := smallestWidth(9, 13, 10, 1); got != 20 {
		t.Errorf("smallestWidth(9, 13, unit 10, 1 point) = %d, want 20 (10 splits 9…12)", got)
	}
}
