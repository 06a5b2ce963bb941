package sim

import "math/rand/v2"

// uniformDraw returns an independent uniform value in [lo, hi).
func uniformDraw(rng *rand.Rand, lo, hi float64) float64 {
	return lo + rng.Float64()*(hi-lo)
}
