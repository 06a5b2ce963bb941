package sim

import "math/rand/v2"

// Walk parameters, relative to the width of the range.
const (
	// walkStepSD is the standard deviation of one step as a fraction of
	// Max-Min (1.5%).
	walkStepSD = 0.015
	// walkReversion is the fraction of the distance to the middle of the
	// range recovered on each step. With walkStepSD it gives a stationary
	// spread of about ±10% of the range (one standard deviation) around the
	// middle.
	walkReversion = 0.01
)

// walkStep advances the unrounded walk state x by one step inside
// [lo, hi], reflecting off the bounds.
func walkStep(rng *rand.Rand, x, lo, hi float64) float64 {
	width := hi - lo
	mid := lo + width/2
	x += walkReversion*(mid-x) + walkStepSD*width*rng.NormFloat64()
	// Reflect; a single reflection suffices for any step below the width,
	// and the clamp covers the (astronomically rare) rest.
	if x > hi {
		x = 2*hi - x
	}
	if x < lo {
		x = 2*lo - x
	}
	return clamp(x, lo, hi)
}
