package sim

import "math"

// round2 rounds x half away from zero to two decimals.
func round2(x float64) float64 {
	return math.Round(x*100) / 100
}

// clamp limits x to [lo, hi].
func clamp(x, lo, hi float64) float64 {
	return math.Min(math.Max(x, lo), hi)
}
