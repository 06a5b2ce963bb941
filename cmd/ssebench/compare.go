package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
)

// runCompare prints a Markdown table of several --json results, with ratios
// against the first (the floor): ssebench compare floor.json other.json …
// When every run had a hold with nobody connected (--idle-hold), the table
// is of the CPU per delivered event instead (writeCompareCPU).
func runCompare(files []string, w io.Writer) error {
	if len(files) == 0 {
		return fmt.Errorf("%w: compare FLOOR.json OTHER.json…", errUsage)
	}
	var rs []*Results
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		r := new(Results)
		if err := json.Unmarshal(b, r); err != nil {
			return fmt.Errorf("%s: %w", f, err)
		}
		if r.Label == "" {
			r.Label = f
		}
		rs = append(rs, r)
	}
	perEvent := true
	for _, r := range rs {
		perEvent = perEvent && r.IdleHoldSeconds > 0
	}
	if perEvent {
		writeCompareCPU(w, rs)
	} else {
		writeCompare(w, rs)
	}
	return nil
}

func ratio(v, base float64) string {
	if base == 0 {
		return ""
	}
	return fmt.Sprintf(" (%.2f×)", v/base)
}

func writeCompare(w io.Writer, rs []*Results) {
	base := rs[0]
	fmt.Fprintln(w, "| server | connected at end | events/s delivered | published/s (IDs) | p50 ms | p90 ms | p99 ms | max ms | lost | dup | disconnects | server CPU % of a core | server RSS MiB (base → end) | bytes/subscriber | load tool CPU % | other processes CPU % |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
	for _, r := range rs {
		fmt.Fprintf(w, "| %s | %d | %.0f%s | %.1f | %.2f%s | %.2f | %.2f%s | %.1f | %d | %d | %d | %.1f%s | %.1f → %.1f | %.0f%s | %.1f | %.1f |\n",
			r.Label, r.ConnectedAtEnd, r.EventsPerSec, ratio(r.EventsPerSec, base.EventsPerSec), r.PublishedPerSec,
			r.Latency.P50, ratio(r.Latency.P50, base.Latency.P50), r.Latency.P90, r.Latency.P99, ratio(r.Latency.P99, base.Latency.P99), r.Latency.Max,
			r.Lost, r.Dup, r.Disconnects, r.ServerCPUPct, ratio(r.ServerCPUPct, base.ServerCPUPct),
			r.ServerRSSBaseMiB, r.ServerRSSEndMiB, r.ServerBytesPerSub, ratio(r.ServerBytesPerSub, base.ServerBytesPerSub), r.SelfCPUPct, r.OtherCPUPct)
	}
}
