package sim

import (
	"math"
	"math/rand/v2"
	"testing"
)

func TestWalkStepsAreSmall(t *testing.T) {
	const n = 10_000
	walk := meanAbsStep(celsius(mustNew(t, Config{Min: 20, Max: 30, Model: Walk, Seed: 3}), n))
	unif := meanAbsStep(celsius(mustNew(t, Config{Min: 20, Max: 30, Model: Uniform, Seed: 3}), n))
	t.Logf("mean |step|: walk %.4f, uniform %.4f", walk, unif)
	if walk == 0 {
		t.Fatal("walk never moved")
	}
	if walk >= unif/4 {
		t.Errorf("walk mean |step| %.4f not < 1/4 of uniform's %.4f", walk, unif)
	}
}

func TestWalkIsNotStuck(t *testing.T) {
	v := celsius(mustNew(t, Config{Min: 20, Max: 30, Model: Walk, Seed: 4}), 100_000)
	lo, hi := span(v)
	t.Logf("walk span over %d readings: %v..%v", len(v), lo, hi)
	if hi-lo < 4 {
		t.Errorf("walk covered only %v..%v of 20..30; want a span of at least 4", lo, hi)
	}
	// Mean reversion keeps it centred.
	var sum float64
	for _, x := range v {
		sum += x
	}
	if mean := sum / float64(len(v)); mean < 24 || mean > 26 {
		t.Errorf("walk mean %v; want near 25", mean)
	}
}

func TestUniformCoversRange(t *testing.T) {
	lo, hi := span(celsius(mustNew(t, Config{Min: 20, Max: 30, Model: Uniform, Seed: 5}), 10_000))
	if lo >= 20.5 || hi <= 29.5 {
		t.Errorf("uniform covered only %v..%v; want below 20.5 and above 29.5", lo, hi)
	}
}

func TestWalkStepReflectsAtBounds(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	const lo, hi = 20.0, 30.0
	reflected := 0
	for i := range 10_000 {
		start := hi
		if i%2 == 1 {
			start = lo
		}
		x := walkStep(rng, start, lo, hi)
		if !(x >= lo && x <= hi) {
			t.Fatalf("step from %v gave %v outside [%v, %v]", start, x, lo, hi)
		}
		if math.Abs(x-start) > 1 {
			t.Fatalf("step from %v jumped to %v", start, x)
		}
		if x != start {
			reflected++
		}
	}
	if reflected < 9_000 {
		t.Errorf("only %d of 10000 steps from a bound moved away from it (clamped instead of reflected?)", reflected)
	}
}
