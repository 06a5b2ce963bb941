package sim

import (
	"slices"
	"testing"
	"time"
)

func TestSameSeedSameSequence(t *testing.T) {
	for _, model := range []Model{Uniform, Walk} {
		cfg := Config{Model: model, Seed: 12345}
		a, b := mustNew(t, cfg), mustNew(t, cfg)
		for i := range 10_000 {
			// Different times must not change the values.
			ra := a.Next(epoch)
			rb := b.Next(epoch.Add(time.Duration(i) * time.Second))
			if ra.Celsius != rb.Celsius {
				t.Fatalf("%s: reading %d differs: %v vs %v", model, i, ra.Celsius, rb.Celsius)
			}
		}
	}
}

func TestDifferentSeedDifferentSequence(t *testing.T) {
	for _, model := range []Model{Uniform, Walk} {
		a := celsius(mustNew(t, Config{Model: model, Seed: 1}), 1000)
		b := celsius(mustNew(t, Config{Model: model, Seed: 2}), 1000)
		if slices.Equal(a, b) {
			t.Errorf("%s: seeds 1 and 2 produced identical sequences", model)
		}
	}
}
