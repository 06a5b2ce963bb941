package sim

import (
	"testing"
	"time"
)

// epoch is a fixed time used wherever the reading time does not matter.
var epoch = time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)

// mustNew builds a Simulator or fails the test.
func mustNew(t *testing.T, cfg Config) *Simulator {
	t.Helper()
	s, err := New(cfg)
	if err != nil {
		t.Fatalf("New(%+v): %v", cfg, err)
	}
	return s
}

// celsius returns the Celsius values of the next n readings of s.
func celsius(s *Simulator, n int) []float64 {
	out := make([]float64, n)
	for i := range out {
		out[i] = s.Next(epoch).Celsius
	}
	return out
}

// meanAbsStep is the mean absolute difference between consecutive values.
func meanAbsStep(v []float64) float64 {
	var sum float64
	for i := 1; i < len(v); i++ {
		d := v[i] - v[i-1]
		if d < 0 {
			d = -d
		}
		sum += d
	}
	return sum / float64(len(v)-1)
}

// span returns the smallest and largest value in v.
func span(v []float64) (lo, hi float64) {
	lo, hi = v[0], v[0]
	for _, x := range v[1:] {
		lo, hi = min(lo, x), max(hi, x)
	}
	return lo, hi
}
