package main

import (
	"fmt"
	"io"
)

// writeCompareCPU is the table of runs with a hold with nobody connected
// (--idle-hold): the server's CPU per delivered event, with its ratio to
// the first run's (the control), then that ratio in words.
func writeCompareCPU(w io.Writer, rs []*Results) {
	base := rs[0]
	fmt.Fprintln(w, "| run | subscribers at end | follows | posts/s accepted (steady) | events/s delivered | server CPU % nobody connected | server CPU % subscribed | **CPU µs per delivered event** | p50 ms | p99 ms | max ms | lost | dup | of other sensors |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
	for _, r := range rs {
		follows := "every sensor"
		if r.FollowSensors > 0 {
			follows = fmt.Sprintf("1 of %d", r.FollowSensors)
		}
		posts, foreign := "", ""
		if r.Post != nil {
			posts, foreign = fmt.Sprintf("%.0f", r.Post.SteadyPerSec), fmt.Sprint(r.Post.Foreign)
		}
		fmt.Fprintf(w, "| %s | %d | %s | %s | %.0f | %.1f | %.1f | **%.2f**%s | %.2f | %.2f | %.1f | %d | %d | %s |\n",
			r.Label, r.ConnectedAtEnd, follows, posts, r.EventsPerSec, r.ServerCPUIdlePct, r.ServerCPUPct,
			r.CPUPerEventUS, ratio(r.CPUPerEventUS, base.CPUPerEventUS), r.Latency.P50, r.Latency.P99, r.Latency.Max, r.Lost, r.Dup, foreign)
	}
	for _, r := range rs[1:] {
		if base.CPUPerEventUS > 0 {
			fmt.Fprintf(w, "\nCPU per delivered event, %s / %s: **%.2f×** (%.2f µs / %.2f µs)\n", r.Label, base.Label, r.CPUPerEventUS/base.CPUPerEventUS, r.CPUPerEventUS, base.CPUPerEventUS)
		}
	}
}
