package sim

import (
	"errors"
	"fmt"
	"math"
)

// ErrInvalidRange is wrapped by errors for a range that cannot produce
// readings: Min >= Max, a NaN or infinite bound, or a range that contains no
// value with two decimals.
var ErrInvalidRange = errors.New("sim: invalid range")

// Defaults applied by New to zero fields of a Config.
const (
	defaultSensor = "sim-1"
	defaultMin    = 20.0
	defaultMax    = 30.0
	defaultModel  = Walk
)

// Config describes a simulator. The zero value is usable: sensor "sim-1",
// range 20..30, model Walk, seed 0.
//
// Config is a plain value and safe to copy and share.
type Config struct {
	Sensor   string  // default "sim-1" when empty
	Min, Max float64 // Min == Max == 0 means 20 and 30
	Model    Model   // "" means Walk
	Seed     int64   // used as given; callers wanting a random seed pick one themselves
}

// withDefaults returns c with its zero fields replaced by the defaults.
func (c Config) withDefaults() Config {
	if c.Sensor == "" {
		c.Sensor = defaultSensor
	}
	if c.Min == 0 && c.Max == 0 {
		c.Min, c.Max = defaultMin, defaultMax
	}
	if c.Model == "" {
		c.Model = defaultModel
	}
	return c
}

// validRange checks low and high and returns the smallest and largest
// two-decimal values inside [low, high], which bound every rounded reading.
func validRange(low, high float64) (lo, hi float64, err error) {
	for _, v := range []float64{low, high, high - low, low * 100, high * 100} {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return 0, 0, fmt.Errorf("%w: min=%v max=%v: bounds must be finite", ErrInvalidRange, low, high)
		}
	}
	if low >= high {
		return 0, 0, fmt.Errorf("%w: min=%v max=%v: min must be less than max", ErrInvalidRange, low, high)
	}
	lo = round2(low)
	if lo < low {
		lo = (math.Round(low*100) + 1) / 100
	}
	hi = round2(high)
	if hi > high {
		hi = (math.Round(high*100) - 1) / 100
	}
	if lo > hi || lo < low || hi > high {
		return 0, 0, fmt.Errorf("%w: min=%v max=%v: no two-decimal value in range", ErrInvalidRange, low, high)
	}
	return lo, hi, nil
}
