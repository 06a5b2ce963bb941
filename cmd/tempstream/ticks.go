package main

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// tickGaps counts the simulator's ticks that were never taken: a
// time.Ticker drops the ticks its receiver misses (publishing took longer
// than --interval, as on a saturated machine), so "published per second"
// falls below 1/--interval with nothing said. Used by one goroutine.
type tickGaps struct {
	interval time.Duration
	last     time.Time
	missed   prometheus.Counter
}

func newTickGaps(interval time.Duration, reg prometheus.Registerer) *tickGaps {
	g := &tickGaps{interval: interval, missed: prometheus.NewCounter(prometheus.CounterOpts{
		Name: "tempstream_sim_ticks_missed_total",
		Help: "Simulator ticks skipped because the previous reading was still being published.",
	})}
	reg.MustRegister(g.missed)
	return g
}

// observe takes the time of a tick and counts the whole intervals missed
// since the previous one.
func (g *tickGaps) observe(t time.Time) {
	if !g.last.IsZero() {
		if gap := t.Sub(g.last); gap >= g.interval*3/2 {
			g.missed.Add(float64((gap+g.interval/2)/g.interval - 1))
		}
	}
	g.last = t
}
