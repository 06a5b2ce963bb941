package history

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// The tests' day: 2025-03-01T00:00Z is day 20,148 since the epoch, minute
// 29,013,120 (20,148 × 1,440). The clock stands a day later.
var (
	day0 = time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)
	now0 = day0.Add(24 * time.Hour)
)

// at is day0 plus a duration written like "00:07:30".
func at(t testing.TB, hms string) time.Time {
	t.Helper()
	var h, m, s int
	if _, err := fmt.Sscanf(hms, "%d:%d:%d", &h, &m, &s); err != nil {
		t.Fatalf("time %q: %v", hms, err)
	}
	return day0.Add(time.Duration(h)*time.Hour + time.Duration(m)*time.Minute + time.Duration(s)*time.Second)
}

// recorder records readings in a memory store with consecutive seqs.
type recorder struct {
	m   *Memory
	seq uint64
}

func newRecorder(o MemoryOptions) *recorder {
	if o.Now == nil {
		o.Now = func() time.Time { return now0 }
	}
	return &recorder{m: NewMemory(o)}
}

func (r *recorder) add(sensor string, at time.Time, c float64) {
	r.seq++
	r.m.Record(Sample{Seq: r.seq, Sensor: sensor, At: at, Celsius: c})
}

// clock is a settable clock.
type clock struct{ ms atomic.Int64 }

func newClock(t time.Time) *clock {
	c := &clock{}
	c.set(t)
	return c
}
func (c *clock) set(t time.Time)     { c.ms.Store(t.UnixMilli()) }
func (c *clock) now() time.Time      { return time.UnixMilli(c.ms.Load()) }
func (c *clock) add(d time.Duration) { c.set(c.now().Add(d)) }

func summaries(t testing.TB, m *Memory, sensor string, g Granularity, from, to time.Time) []Bucket {
	t.Helper()
	bs, err := m.Summaries(context.Background(), sensor, g, from, to)
	if err != nil {
		t.Fatal(err)
	}
	return bs
}

func raw(t testing.TB, m *Memory, sensor string, from, to time.Time, limit int) ([]Sample, bool) {
	t.Helper()
	rs, complete, err := m.Raw(context.Background(), sensor, from, to, limit)
	if err != nil {
		t.Fatal(err)
	}
	return rs, complete
}

// TestMemorySummaries: per minute and per hour, exact; Start in [from, to).
func TestMemorySummaries(t *testing.T) {
	r := newRecorder(MemoryOptions{})
	r.add("s", at(t, "00:00:00"), 10)
	r.add("s", at(t, "00:00:59"), 12)
	r.add("s", at(t, "00:01:00"), 5)
	r.add("s", at(t, "01:59:59"), 7)
	r.add("s", at(t, "00:00:30"), 20) // out of time order: still counted
	r.add("t", at(t, "00:00:30"), 99)

	got := summaries(t, r.m, "s", Minute, day0, at(t, "03:00:00"))
	want := []Bucket{
		{Start: day0, Min: 10, Max: 20, Sum: 42, Count: 3},
		{Start: at(t, "00:01:00"), Min: 5, Max: 5, Sum: 5, Count: 1},
		{Start: at(t, "01:59:00"), Min: 7, Max: 7, Sum: 7, Count: 1},
	}
	checkBuckets(t, "minutes", got, want)
	checkBuckets(t, "hours", summaries(t, r.m, "s", Hour, day0, at(t, "03:00:00")), []Bucket{
		{Start: day0, Min: 5, Max: 20, Sum: 47, Count: 4},
		{Start: at(t, "01:00:00"), Min: 7, Max: 7, Sum: 7, Count: 1},
	})
	// Start in [from, to): 00:00:30 starts no minute, so from it the
	// first minute is 00:01; to 01:59 excludes the minute starting then.
	checkBuckets(t, "minutes from 00:00:30", summaries(t, r.m, "s", Minute, at(t, "00:00:30"), at(t, "01:59:00")), want[1:2])
	if bs := summaries(t, r.m, "nobody", Minute, day0, now0); len(bs) != 0 {
		t.Errorf("unknown sensor: %v", bs)
	}
	if _, err := r.m.Summaries(context.Background(), "s", Granularity(time.Second), day0, now0); err == nil {
		t.Error("summaries by the second: no error")
	}
}

func checkBuckets(t testing.TB, what string, got, want []Bucket) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %+v, want %+v", what, got, want)
	}
	for i := range got {
		if !got[i].Start.Equal(want[i].Start) || got[i].Min != want[i].Min || got[i].Max != want[i].Max || got[i].Sum != want[i].Sum || got[i].Count != want[i].Count {
			t.Errorf("%s[%d]: %+v, want %+v", what, i, got[i], want[i])
		}
	}
}

// TestMemorySeq: a reading whose Seq is not above the last one is ignored.
func TestMemorySeq(t *testing.T) {
	m := NewMemory(MemoryOptions{Now: func() time.Time { return now0 }})
	m.Record(Sample{Seq: 5, Sensor: "s", At: at(t, "00:00:01"), Celsius: 1})
	m.Record(Sample{Seq: 5, Sensor: "s", At: at(t, "00:00:02"), Celsius: 2})
	m.Record(Sample{Seq: 4, Sensor: "s", At: at(t, "00:00:03"), Celsius: 3})
	m.Record(Sample{Seq: 0, Sensor: "s", At: at(t, "00:00:04"), Celsius: 4})
	m.Record(Sample{Seq: 6, Sensor: "s", At: at(t, "00:00:05"), Celsius: 5})
	rs, complete := raw(t, m, "s", day0, now0, 10)
	if !complete || len(rs) != 2 || rs[0].Seq != 5 || rs[0].Celsius != 1 || rs[1].Seq != 6 || rs[1].Sensor != "s" || !rs[1].At.Equal(at(t, "00:00:05")) {
		t.Errorf("raw %+v complete %v, want seqs 5 and 6", rs, complete)
	}
	checkBuckets(t, "minute", summaries(t, m, "s", Minute, day0, now0), []Bucket{{Start: day0, Min: 1, Max: 5, Sum: 6, Count: 2}})
}

// TestMemoryRawBound: the latest RawPerSensor readings (by time) are kept
// raw; a range is complete only after the newest one dropped.
func TestMemoryRawBound(t *testing.T) {
	r := newRecorder(MemoryOptions{RawPerSensor: 3})
	for i := range 5 {
		r.add("s", day0.Add(time.Duration(i)*time.Second), float64(i))
	}
	r.add("s", day0.Add(-time.Second), -1) // older than all kept: dropped at once
	rs, complete := raw(t, r.m, "s", day0.Add(-time.Hour), now0, 10)
	if complete || len(rs) != 3 || rs[0].Celsius != 2 || rs[2].Celsius != 4 {
		t.Errorf("raw %+v complete %v, want 2, 3, 4, incomplete", rs, complete)
	}
	if _, complete := raw(t, r.m, "s", day0.Add(time.Second), now0, 10); complete {
		t.Error("range from the newest dropped reading: complete")
	}
	if rs, complete := raw(t, r.m, "s", day0.Add(time.Second+time.Millisecond), now0, 1); !complete || len(rs) != 1 || rs[0].Celsius != 2 {
		t.Errorf("range after the dropped readings, limit 1: %+v complete %v", rs, complete)
	}
	// The summaries keep every reading.
	checkBuckets(t, "minutes", summaries(t, r.m, "s", Minute, day0.Add(-time.Hour), now0), []Bucket{
		{Start: day0.Add(-time.Minute), Min: -1, Max: -1, Sum: -1, Count: 1},
		{Start: day0, Min: 0, Max: 4, Sum: 10, Count: 5},
	})
}

// TestMemoryAge: summaries and readings are dropped once their minute (or
// hour) ended Age ago, and readings that old are not recorded; the memory
// held stays bounded however long readings come.
func TestMemoryAge(t *testing.T) {
	c := newClock(day0)
	m := NewMemory(MemoryOptions{Age: 3 * time.Hour, RawPerSensor: 1000, Now: c.now})
	seq := uint64(0)
	record := func(sensor string, at time.Time) {
		seq++
		m.Record(Sample{Seq: seq, Sensor: sensor, At: at, Celsius: 1})
	}
	record("old", day0) // never again: dropped by a sweep
	// A reading every minute for 10 hours, the clock following.
	for i := range 600 {
		c.set(day0.Add(time.Duration(i) * time.Minute))
		record("s", c.now())
	}
	last := c.now() // 09:59
	h := m.bySensor["s"]
	// At 09:59 the cutoff is 06:59: the minute starting then ends after
	// it, so 06:59 … 09:59 are kept, 181 of them.
	if n := len(h.minutes); n != 181 {
		t.Errorf("%d minute summaries kept for an age of 3 h, want 181 (06:59 … 09:59)", n)
	}
	if n := len(h.hours); n != 4 {
		t.Errorf("%d hour summaries, want 4 (06:00 … 09:00)", n)
	}
	if n := len(h.raw); n != 181 {
		t.Errorf("%d raw readings, want those of the minutes kept, 181", n)
	}
	if cap(h.minutes) > 2*181+64 || cap(h.raw) > 2*181+64 {
		t.Errorf("capacity of minutes %d, raw %d: the dropped ones are not freed", cap(h.minutes), cap(h.raw))
	}
	if _, ok := m.bySensor["old"]; ok {
		t.Error("a sensor with nothing left is still held")
	}
	// Too old to record.
	record("s", last.Add(-3*time.Hour-time.Minute))
	if n := len(m.bySensor["s"].minutes); n != 181 {
		t.Errorf("%d minute summaries after recording a reading older than the age", n)
	}
	// Queries drop what aged even when nothing is recorded.
	c.add(time.Hour)
	bs := summaries(t, m, "s", Minute, day0, c.now())
	if len(bs) != 121 || !bs[0].Start.Equal(last.Add(-2*time.Hour)) {
		t.Fatalf("an hour later: %d minutes, want 121 from %v", len(bs), last.Add(-2*time.Hour))
	}
	if rs, _ := raw(t, m, "s", day0, c.now(), 1000); len(rs) != 121 {
		t.Errorf("an hour later: %d raw readings, want 121", len(rs))
	}
	if hs := summaries(t, m, "s", Hour, day0, c.now()); len(hs) != 3 {
		t.Errorf("an hour later: %d hours, want 3 (07:00, 08:00, 09:00)", len(hs))
	}
}

// TestMemoryMaxSensors: readings of sensors past MaxSensors are dropped.
func TestMemoryMaxSensors(t *testing.T) {
	r := newRecorder(MemoryOptions{MaxSensors: 2})
	r.add("a", day0, 1)
	r.add("b", day0, 1)
	r.add("c", day0, 1)
	r.add("a", day0.Add(time.Second), 1)
	for sensor, n := range map[string]int{"a": 2, "b": 1, "c": 0} {
		if rs, _ := raw(t, r.m, sensor, day0, now0, 10); len(rs) != n {
			t.Errorf("sensor %s: %d readings, want %d", sensor, len(rs), n)
		}
	}
}

// TestMemoryClose: queries fail with ErrClosed, Record does nothing.
func TestMemoryClose(t *testing.T) {
	r := newRecorder(MemoryOptions{})
	r.add("s", day0, 1)
	r.m.Close()
	r.add("s", day0, 1)
	if _, _, err := r.m.Raw(context.Background(), "s", day0, now0, 1); !errors.Is(err, ErrClosed) {
		t.Errorf("Raw after Close: %v", err)
	}
	if _, err := r.m.Summaries(context.Background(), "s", Minute, day0, now0); !errors.Is(err, ErrClosed) {
		t.Errorf("Summaries after Close: %v", err)
	}
	r.m.Close()
}

// TestMemoryConcurrent records from several goroutines while others query
// (run with -race); every reading is counted once.
func TestMemoryConcurrent(t *testing.T) {
	m := NewMemory(MemoryOptions{Now: func() time.Time { return now0 }})
	var seq atomic.Uint64
	var mu sync.Mutex // Record in seq order, as a publisher would
	var wg sync.WaitGroup
	const writers, each = 4, 500
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				mu.Lock()
				m.Record(Sample{Seq: seq.Add(1), Sensor: []string{"a", "b"}[w%2], At: day0.Add(time.Duration(i) * time.Second), Celsius: float64(i)})
				mu.Unlock()
			}
		})
		wg.Go(func() {
			for range each / 10 {
				if _, err := m.Summaries(context.Background(), "a", Minute, day0, now0); err != nil {
					t.Error(err)
					return
				}
				if _, _, err := m.Raw(context.Background(), "b", day0, now0, 100); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	for _, sensor := range []string{"a", "b"} {
		hs := summaries(t, m, sensor, Hour, day0, now0)
		if len(hs) != 1 || hs[0].Count != writers/2*each {
			t.Errorf("sensor %s: hours %+v, want one of %d readings", sensor, hs, writers/2*each)
		}
	}
}
