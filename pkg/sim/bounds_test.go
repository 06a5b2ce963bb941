package sim

import (
	"fmt"
	"math"
	"testing"
)

func TestReadingsWithinBoundsAndTwoDecimals(t *testing.T) {
	ranges := []struct{ min, max float64 }{
		{20, 30},
		{-40, -10},
		{-5, 5},
		{20, 20.05},
		{0.001, 0.019}, // only 0.01 is a two-decimal value in range
		{-0.3, 1000.7},
	}
	const n = 100_000
	for _, model := range []Model{Uniform, Walk} {
		for _, r := range ranges {
			t.Run(fmt.Sprintf("%s/%v..%v", model, r.min, r.max), func(t *testing.T) {
				s := mustNew(t, Config{Min: r.min, Max: r.max, Model: model, Seed: 7})
				for i := range n {
					c := s.Next(epoch).Celsius
					if !(c >= r.min && c <= r.max) {
						t.Fatalf("reading %d = %v outside [%v, %v]", i, c, r.min, r.max)
					}
					if math.Abs(c*100-math.Round(c*100)) >= 1e-9 {
						t.Fatalf("reading %d = %v has more than two decimals", i, c)
					}
				}
			})
		}
	}
}

func TestRound2HalfAwayFromZero(t *testing.T) {
	for _, tc := range []struct{ in, want float64 }{
		{0.125, 0.13}, {-0.125, -0.13}, {25.004, 25}, {25.005, 25.01}, {-3.456, -3.46},
	} {
		if got := round2(tc.in); got != tc.want {
			t.Errorf("round2(%v) = %v; want %v", tc.in, got, tc.want)
		}
	}
}
