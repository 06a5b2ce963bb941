package history

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"sync"
	"time"
)

// Defaults of MemoryOptions.
const (
	DefaultAge          = 30 * 24 * time.Hour
	DefaultRawPerSensor = 3600
)

// MemoryOptions configure NewMemory.
type MemoryOptions struct {
	// Age is how long summaries are kept (--history-age); readings taken
	// longer ago are not recorded. 0: DefaultAge.
	Age time.Duration
	// RawPerSensor is how many readings of each sensor are kept raw, the
	// latest taken (--retention). 0: DefaultRawPerSensor.
	RawPerSensor int
	// MaxSensors is how many sensors are remembered (--max-sensors);
	// readings of further sensors are not recorded. 0: no limit.
	MaxSensors int
	// Now is the clock that ages summaries; nil: time.Now.
	Now func() time.Time
}

// Memory is the history this process holds: per sensor, a summary of each
// minute and each hour with readings, for Age, and the latest RawPerSensor
// readings. Its memory is bounded: per sensor, at most Age/1m+1 minute
// summaries and Age/1h+1 hour summaries of 32 bytes each, and RawPerSensor
// readings of 24 bytes (for 30 days: 1.4 MB for a sensor with readings in
// every minute, plus 84 KiB of readings with RawPerSensor 3600), for at
// most MaxSensors sensors (slices may hold up to twice that while they
// grow).
//
// It records what it is given (Record); a reading whose Seq is not above
// the last recorded one is ignored, so readings must be recorded in
// sequence order. It is safe for concurrent use.
type Memory struct {
	age     int64 // ms
	raw     int
	sensors int
	now     func() time.Time

	mu        sync.RWMutex
	closed    bool
	lastSeq   uint64
	bySensor  map[string]*sensorHistory
	lastSweep int64 // ms, of the clock
}

var _ Store = (*Memory)(nil)

// sensorHistory is what Memory holds of one sensor.
type sensorHistory struct {
	minutes, hours []summary   // by idx, ascending
	raw            []rawSample // by (at, seq), ascending
	// dropped is the time (ms) of the newest reading dropped from raw to
	// keep it bounded: raw holds every recorded reading taken after it.
	dropped int64
	hasDrop bool
}

// summary is a minute's or hour's readings; idx is its start divided by
// its width (the minute or hour since the epoch).
type summary struct {
	idx           int32
	count         uint32
	min, max, sum float64
}

// rawSample is a reading as kept: at in ms.
type rawSample struct {
	at      int64
	seq     uint64
	celsius float64
}

// NewMemory returns an empty memory store.
func NewMemory(o MemoryOptions) *Memory {
	if o.Age <= 0 {
		o.Age = DefaultAge
	}
	if o.RawPerSensor <= 0 {
		o.RawPerSensor = DefaultRawPerSensor
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Memory{
		age:      o.Age.Milliseconds(),
		raw:      o.RawPerSensor,
		sensors:  o.MaxSensors,
		now:      o.Now,
		bySensor: make(map[string]*sensorHistory),
	}
}

// Kind is "memory".
func (m *Memory) Kind() string { return "memory" }

// Close drops everything; queries then fail with ErrClosed and Record
// does nothing.
func (m *Memory) Close() {
	m.mu.Lock()
	m.closed = true
	m.bySensor = nil
	m.mu.Unlock()
}

// cutoff returns the oldest time (ms) kept at the clock's now.
func (m *Memory) cutoff() int64 { return m.now().UnixMilli() - m.age }

// Record adds a stored reading. It ignores a reading whose Seq is at or
// below the last recorded one, one taken in a minute that ended Age ago or
// earlier (or before 1970), and one of a new sensor past MaxSensors.
func (m *Memory) Record(s Sample) {
	at := s.At.UnixMilli()
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed || s.Seq <= m.lastSeq {
		return
	}
	m.lastSeq = s.Seq
	now := m.now().UnixMilli()
	cut := now - m.age
	if now-m.lastSweep >= minute {
		m.sweepLocked(cut)
		m.lastSweep = now
	}
	if at < 0 || at < floorDiv(cut, minute)*minute || at/minute > maxIdx {
		return // before the epoch, in a minute already dropped, or past the year 6053
	}
	h := m.bySensor[s.Sensor]
	if h == nil {
		if m.sensors > 0 && len(m.bySensor) >= m.sensors {
			return
		}
		h = &sensorHistory{}
		m.bySensor[s.Sensor] = h
	}
	h.minutes = addTo(h.minutes, int32(at/minute), s.Celsius)
	h.hours = addTo(h.hours, int32(at/hour), s.Celsius)
	r := rawSample{at: at, seq: s.Seq, celsius: s.Celsius}
	i, _ := slices.BinarySearchFunc(h.raw, r, compareRaw)
	h.raw = slices.Insert(h.raw, i, r)
	if len(h.raw) > m.raw {
		if !h.hasDrop || h.raw[0].at > h.dropped {
			h.dropped, h.hasDrop = h.raw[0].at, true
		}
		h.raw = dropFront(h.raw, 1)
	}
	h.pruneLocked(cut)
}

// maxIdx is the last minute a summary can index (the year 6053).
const maxIdx = 1<<31 - 1

func compareRaw(a, b rawSample) int {
	return cmp.Or(cmp.Compare(a.at, b.at), cmp.Compare(a.seq, b.seq))
}

// addTo adds reading c to the summary idx of ss.
func addTo(ss []summary, idx int32, c float64) []summary {
	i, found := slices.BinarySearchFunc(ss, idx, func(s summary, idx int32) int { return cmp.Compare(s.idx, idx) })
	if !found {
		return slices.Insert(ss, i, summary{idx: idx, count: 1, min: c, max: c, sum: c})
	}
	s := &ss[i]
	s.count++
	s.min, s.max, s.sum = min(s.min, c), max(s.max, c), s.sum+c
	return ss
}

// dropFront removes the first n elements, copying the rest into a smaller
// array once most of the array is behind them, so that the memory of what
// was dropped is freed.
func dropFront[T any](s []T, n int) []T {
	if n == 0 {
		return s
	}
	s = s[n:]
	if cap(s) > 64 && len(s) < cap(s)/4 {
		s = append(make([]T, 0, 2*len(s)), s...)
	}
	return s
}

// pruneLocked drops what ended before cut (ms): summaries, and the raw
// readings of minutes whose summaries were dropped.
func (h *sensorHistory) pruneLocked(cut int64) {
	firstMinute := floorDiv(cut, minute) // the first minute that ends after cut
	n := 0
	for n < len(h.minutes) && int64(h.minutes[n].idx) < firstMinute {
		n++
	}
	h.minutes = dropFront(h.minutes, n)
	firstHour := floorDiv(cut, hour)
	n = 0
	for n < len(h.hours) && int64(h.hours[n].idx) < firstHour {
		n++
	}
	h.hours = dropFront(h.hours, n)
	n = 0
	for n < len(h.raw) && h.raw[n].at < firstMinute*minute {
		n++
	}
	h.raw = dropFront(h.raw, n)
}

// sweepLocked prunes every sensor, forgetting those left with nothing.
func (m *Memory) sweepLocked(cut int64) {
	for id, h := range m.bySensor {
		h.pruneLocked(cut)
		if len(h.minutes) == 0 && len(h.hours) == 0 && len(h.raw) == 0 {
			delete(m.bySensor, id)
		}
	}
}

// Summaries returns sensor's summaries at g whose start is in [from, to).
func (m *Memory) Summaries(ctx context.Context, sensor string, g Granularity, from, to time.Time) ([]Bucket, error) {
	var w int64
	switch g {
	case Minute:
		w = minute
	case Hour:
		w = hour
	default:
		return nil, fmt.Errorf("history: no summaries of %v", time.Duration(g))
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	cut := m.cutoff()
	lo := max(ceilDiv(from.UnixMilli(), w), floorDiv(cut, w)) // nothing that ended by cut
	hi := ceilDiv(to.UnixMilli(), w)
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.closed {
		return nil, ErrClosed
	}
	h := m.bySensor[sensor]
	if h == nil || lo >= hi {
		return nil, nil
	}
	ss := h.minutes
	if g == Hour {
		ss = h.hours
	}
	i, _ := slices.BinarySearchFunc(ss, lo, func(s summary, idx int64) int { return cmp.Compare(int64(s.idx), idx) })
	var out []Bucket
	for ; i < len(ss) && int64(ss[i].idx) < hi; i++ {
		s := ss[i]
		out = append(out, Bucket{Start: time.UnixMilli(int64(s.idx) * w).UTC(), Min: s.min, Max: s.max, Sum: s.sum, Count: int64(s.count)})
	}
	return out, nil
}

// Raw returns up to limit of sensor's readings taken in [from, to), oldest
// first; complete is false when a reading of the range was dropped to keep
// RawPerSensor (readings older than Age are no part of the history: their
// absence leaves a range complete).
func (m *Memory) Raw(ctx context.Context, sensor string, from, to time.Time, limit int) ([]Sample, bool, error) {
	if err := ctx.Err(); err != nil {
		return nil, false, err
	}
	lo := max(from.UnixMilli(), floorDiv(m.cutoff(), minute)*minute) // as pruneLocked
	hi := to.UnixMilli()
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.closed {
		return nil, false, ErrClosed
	}
	h := m.bySensor[sensor]
	if h == nil {
		return nil, true, nil
	}
	complete := !h.hasDrop || from.UnixMilli() > h.dropped
	i, _ := slices.BinarySearchFunc(h.raw, lo, func(r rawSample, at int64) int { return cmp.Compare(r.at, at) })
	var out []Sample
	for ; i < len(h.raw) && h.raw[i].at < hi && len(out) < limit; i++ {
		r := h.raw[i]
		out = append(out, Sample{Seq: r.seq, Sensor: sensor, At: time.UnixMilli(r.at).UTC(), Celsius: r.celsius})
	}
	return out, complete, nil
}
