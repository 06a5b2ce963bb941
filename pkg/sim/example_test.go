package sim_test

import (
	"fmt"
	"time"

	"github.com/tempstream/tempstream/pkg/sim"
)

func ExampleSimulator_Next() {
	s, err := sim.New(sim.Config{Sensor: "sim-1", Min: 20, Max: 30, Model: sim.Walk, Seed: 42})
	if err != nil {
		panic(err)
	}
	start := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range 5 {
		r := s.Next(start.Add(time.Duration(i) * time.Second))
		fmt.Printf("%s %s %.2f\n", r.Sensor, r.At.Format(time.TimeOnly), r.Celsius)
	}
	// Output:
	// sim-1 00:00:00 25.23
	// sim-1 00:00:01 25.08
	// sim-1 00:00:02 24.91
	// sim-1 00:00:03 24.88
	// sim-1 00:00:04 24.72
}
