// Package history keeps what tempstream remembers of readings past the
// replay ring: per sensor, summaries by minute and by hour (minimum, mean,
// maximum, count) for --history-age, and the raw readings the store still
// holds (JetStream keeps them for --max-age), and answers range queries in
// equal-width buckets (query.go) for GET /api/v1/history.
//
// The seam between the implementations is Store: store_memory.go (what
// this process holds, for --store memory) and, in pkg/natsjs, the
// JetStream one (summaries in a stream of their own, shared by every
// instance and surviving restarts).
package history

import (
	"context"
	"time"
)

// Granularity is the width of a stored summary.
type Granularity time.Duration

// The stored granularities, finest first.
const (
	Minute = Granularity(time.Minute)
	Hour   = Granularity(time.Hour)
)

// Sample is one stored reading.
type Sample struct {
	Seq     uint64    // its sequence number in the log (the event ID's seq)
	Sensor  string    // the sensor's ID
	At      time.Time // when it was taken
	Celsius float64
}

// Bucket is the summary of a sensor's readings taken in [Start,
// Start+granularity): Sum/Count is the mean.
type Bucket struct {
	Start    time.Time
	Min, Max float64
	Sum      float64
	Count    int64
}

// Store is where history is kept; it reads what it keeps as readings are
// stored (the memory store is handed each stored reading with Record; the
// JetStream one follows the readings stream itself). Its methods are safe for
// concurrent use; after Close, queries fail with ErrClosed; a query the
// store cannot answer for now fails with ErrUnavailable.
type Store interface {
	// Summaries returns the buckets of sensor at granularity g whose Start
	// is in [from, to), oldest first; buckets with no reading are absent.
	Summaries(ctx context.Context, sensor string, g Granularity, from, to time.Time) ([]Bucket, error)
	// Raw returns up to limit readings of sensor taken in [from, to),
	// oldest first, and whether the store holds every reading of that range
	// (false when some are older than it keeps raw).
	Raw(ctx context.Context, sensor string, from, to time.Time, limit int) (samples []Sample, complete bool, err error)
	// Kind says what the history is, for the API: "memory" (what this
	// process holds since it started) or "jetstream" (shared and durable).
	Kind() string
	Close()
}
