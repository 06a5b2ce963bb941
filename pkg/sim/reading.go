package sim

import "time"

// Reading is one temperature sample.
//
// Reading is an immutable value; it is safe to copy and to share between
// goroutines.
type Reading struct {
	Sensor  string    // sensor ID, e.g. "sim-1"
	Celsius float64   // rounded to two decimals, within [Min, Max]
	At      time.Time // when it was taken (UTC)
}
