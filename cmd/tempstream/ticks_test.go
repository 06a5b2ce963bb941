package main

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestTickGapsCountsMissedTicks(t *testing.T) {
	g := newTickGaps(time.Second, prometheus.NewRegistry())
	t0 := time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)
	for _, d := range []time.Duration{
		0, time.Second, 2 * time.Second, // on time
		2*time.Second + 1400*time.Millisecond, // late, but no tick missed
		5 * time.Second,                       // 1.6 s gap: one missed
		9 * time.Second,                       // 4 s: three missed
	} {
		g.observe(t0.Add(d))
	}
	if got := testutil.ToFloat64(g.missed); got != 4 {
		t.Fatalf("missed = %v, want 4", got)
	}
}
