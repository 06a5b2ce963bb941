package sim

import (
	"context"
	"time"
)

// Group is several simulated sensors that tick together: one reading from
// each per tick, in the group's order. Like Simulator, it is not safe for
// concurrent use.
type Group []*Simulator

// NewGroup returns one simulator per sensor name, all with cfg but their
// Sensor and Seed: sensor i gets seed cfg.Seed+i, so each walks on its own
// and the whole group is deterministic for a seed.
func NewGroup(cfg Config, sensors ...string) (Group, error) {
	g := make(Group, len(sensors))
	for i, name := range sensors {
		c := cfg
		c.Sensor = name
		c.Seed = cfg.Seed + int64(i)
		s, err := New(c)
		if err != nil {
			return nil, err
		}
		g[i] = s
	}
	return g, nil
}

// Next returns one reading from each simulator, all taken at at.
func (g Group) Next(at time.Time) []Reading {
	out := make([]Reading, len(g))
	for i, s := range g {
		out[i] = s.Next(at)
	}
	return out
}

// Run calls emit(g.Next(t)) for every t received from ticks, until ctx is
// done or ticks is closed, and then returns; a tick that arrives after ctx
// is done is dropped. Like Simulator.Run, it starts no goroutine and calls
// emit on the caller's.
func (g Group) Run(ctx context.Context, ticks <-chan time.Time, emit func([]Reading)) {
	for {
		select {
		case <-ctx.Done():
			return
		case t, ok := <-ticks:
			if !ok || ctx.Err() != nil {
				return
			}
			emit(g.Next(t))
		}
	}
}
