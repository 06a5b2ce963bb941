package sim

import (
	"errors"
	"math"
	"testing"
	"time"
)

func TestNewRejectsInvalidRange(t *testing.T) {
	nan, inf := math.NaN(), math.Inf(1)
	for _, tc := range []struct {
		name     string
		min, max float64
	}{
		{"min equals max", 25, 25},
		{"min above max", 30, 20},
		{"NaN min", nan, 30},
		{"NaN max", 20, nan},
		{"+Inf max", 20, inf},
		{"-Inf min", -inf, 30},
		{"width overflows", -math.MaxFloat64, math.MaxFloat64},
		{"no two-decimal value", 20.001, 20.009},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := New(Config{Min: tc.min, Max: tc.max})
			if !errors.Is(err, ErrInvalidRange) {
				t.Fatalf("New(min=%v, max=%v) = %v, %v; want ErrInvalidRange", tc.min, tc.max, s, err)
			}
			if s != nil {
				t.Errorf("New returned a simulator with an error")
			}
		})
	}
}

func TestNewRejectsUnknownModel(t *testing.T) {
	s, err := New(Config{Model: "brownian"})
	if !errors.Is(err, ErrUnknownModel) {
		t.Fatalf("New(Model: brownian) = %v, %v; want ErrUnknownModel", s, err)
	}
}

func TestZeroConfig(t *testing.T) {
	s := mustNew(t, Config{})
	if s.sensor != "sim-1" || s.min != 20 || s.max != 30 || s.model != Walk {
		t.Fatalf("Config{} gave sensor=%q range=%v..%v model=%q; want sim-1 20..30 walk",
			s.sensor, s.min, s.max, s.model)
	}
	r := s.Next(epoch)
	if r.Sensor != "sim-1" {
		t.Errorf("Sensor = %q; want sim-1", r.Sensor)
	}
	// A walk starts in the middle and moves by small steps.
	if r.Celsius < 23 || r.Celsius > 27 {
		t.Errorf("first walk reading %v not near the middle of 20..30", r.Celsius)
	}
	// Same behaviour as spelling the defaults out.
	want := celsius(mustNew(t, Config{Sensor: "sim-1", Min: 20, Max: 30, Model: Walk}), 1000)
	got := append([]float64{r.Celsius}, celsius(s, 999)...)
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("reading %d: Config{} gave %v, explicit defaults gave %v", i, got[i], want[i])
		}
	}
}

func TestNextConvertsToUTC(t *testing.T) {
	s := mustNew(t, Config{Sensor: "kitchen"})
	at := epoch.In(time.FixedZone("UTC+5", 5*3600))
	r := s.Next(at)
	if r.At.Location() != time.UTC || !r.At.Equal(at) {
		t.Errorf("At = %v; want %v in UTC", r.At, at.UTC())
	}
	if r.Sensor != "kitchen" {
		t.Errorf("Sensor = %q; want kitchen", r.Sensor)
	}
}
