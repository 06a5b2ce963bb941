package sim

import (
	"math/rand/v2"
	"time"
)

// pcgStream is the second PCG seed word; the first is the Config seed.
const pcgStream = 0x7e3a_5f1d_c0ff_ee42

// Simulator produces readings.
//
// Not safe for concurrent use: one goroutine calls Next or Run.
type Simulator struct {
	sensor   string
	model    Model
	min, max float64 // configured range
	lo, hi   float64 // two-decimal bounds inside [min, max]
	rng      *rand.Rand
	x        float64 // unrounded walk state
}

// New returns a Simulator for cfg after applying defaults (see [Config]).
// It fails with an error wrapping [ErrInvalidRange] when Min >= Max, a bound
// is NaN or infinite, or no two-decimal value lies in the range, and with
// an error wrapping [ErrUnknownModel] for an unknown model.
func New(cfg Config) (*Simulator, error) {
	cfg = cfg.withDefaults()
	lo, hi, err := validRange(cfg.Min, cfg.Max)
	if err != nil {
		return nil, err
	}
	model, err := ParseModel(string(cfg.Model))
	if err != nil {
		return nil, err
	}
	return &Simulator{
		sensor: cfg.Sensor,
		model:  model,
		min:    cfg.Min,
		max:    cfg.Max,
		lo:     lo,
		hi:     hi,
		rng:    rand.New(rand.NewPCG(uint64(cfg.Seed), pcgStream)),
		x:      cfg.Min + (cfg.Max-cfg.Min)/2,
	}, nil
}

// Next returns the next reading, taken at at (converted to UTC).
//
// Deterministic: two simulators with the same Config produce the same
// sequence of Celsius values for the same sequence of calls; the times
// passed in do not influence the values.
func (s *Simulator) Next(at time.Time) Reading {
	var v float64
	switch s.model {
	case Uniform:
		v = uniformDraw(s.rng, s.min, s.max)
	default: // Walk; New admits no other model
		s.x = walkStep(s.rng, s.x, s.min, s.max)
		v = s.x
	}
	return Reading{
		Sensor:  s.sensor,
		Celsius: clamp(round2(v), s.lo, s.hi),
		At:      at.UTC(),
	}
}
