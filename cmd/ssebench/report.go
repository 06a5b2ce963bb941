package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"text/tabwriter"
	"time"
)

// Quantiles summarises a histogram, in milliseconds.
type Quantiles struct {
	N   uint64  `json:"n"`
	P50 float64 `json:"p50_ms"`
	P90 float64 `json:"p90_ms"`
	P99 float64 `json:"p99_ms"`
	Max float64 `json:"max_ms"`
}

func summarize(s *HistSnapshot) Quantiles {
	return Quantiles{N: s.N, P50: ms(s.Quantile(0.5)), P90: ms(s.Quantile(0.9)), P99: ms(s.Quantile(0.99)), Max: ms(s.Quantile(1))}
}

// Point is one second of the run.
type Point struct {
	T            float64 `json:"t"`
	Connected    int64   `json:"connected"`
	Stalled      int64   `json:"stalled"`
	NewConns     uint64  `json:"new_conns"`
	Events       uint64  `json:"events"`
	Samples      uint64  `json:"samples"`
	P50          float64 `json:"p50_ms"`
	P90          float64 `json:"p90_ms"`
	P99          float64 `json:"p99_ms"`
	Max          float64 `json:"max_ms"`
	Reconnects   uint64  `json:"reconnects"`
	Disconnects  uint64  `json:"disconnects"`
	Lost         uint64  `json:"lost"`
	ServerCPU    float64 `json:"server_cpu_pct"`
	ServerRSSMiB float64 `json:"server_rss_mib"`
	SelfCPU      float64 `json:"self_cpu_pct"`
	OtherCPU     float64 `json:"other_cpu_pct"` // the rest of the machine (other processes), % of a core
}

// Results is everything one run measured (--json writes it).
type Results struct {
	Label         string    `json:"label,omitempty"`
	URL           string    `json:"url"`
	N             int       `json:"n"`
	Mine          int       `json:"n_this_shard"`
	Shard         string    `json:"shard"`
	Ramp          float64   `json:"ramp_per_s"`
	Parser        string    `json:"parser"`
	StallFraction float64   `json:"stall_fraction"`
	Sources       int       `json:"source_addresses"`
	FDLimit       uint64    `json:"fd_limit"`
	Start         time.Time `json:"start"`
	Interrupted   bool      `json:"interrupted"`

	RampSeconds        float64 `json:"ramp_s"`
	ConnectedAfterRamp int64   `json:"connected_after_ramp"`
	ConnsPerSec        float64 `json:"conns_per_s"`
	SettleSeconds      float64 `json:"settle_s,omitempty"`
	SteadySeconds      float64 `json:"steady_s"`
	ConnectedAtEnd     int64   `json:"connected_at_end"`

	Events          uint64  `json:"events"`
	SteadyEvents    uint64  `json:"steady_events"`
	EventsPerSec    float64 `json:"events_per_s"`
	PublishedPerSec float64 `json:"published_per_s_from_ids"`
	Backlog         uint64  `json:"backlog_events"`
	NoAt            uint64  `json:"events_without_at"`
	Lost            uint64  `json:"lost"`
	LossMethod      string  `json:"loss_method"` // gaps in IDs; the poster's IDs (--post-url); none (filtered, no poster)
	Dup             uint64  `json:"duplicated"`
	ClientsWithLoss uint64  `json:"clients_with_loss"`
	EpochChanges    uint64  `json:"epoch_changes"`
	OpaqueIDs       uint64  `json:"opaque_ids"`
	BehindAtEndMax  uint64  `json:"behind_at_end_max"`

	DialErrors            uint64         `json:"dial_errors"`
	HTTPErrors            uint64         `json:"http_errors"`
	Disconnects           uint64         `json:"disconnects"`
	Reconnects            uint64         `json:"reconnects"`
	Resets                uint64         `json:"resets"`
	StalledClients        uint64         `json:"stalled_clients"`
	StalledClosedByServer uint64         `json:"stalled_closed_by_server"`
	EndErrors             map[string]int `json:"end_errors,omitempty"`

	Latency     Quantiles   `json:"latency"`     // steady phase, live events
	LatencyAll  Quantiles   `json:"latency_all"` // ramp included
	ConnectTime Quantiles   `json:"connect_time"`
	FirstEvent  Quantiles   `json:"first_event"`
	LatencyHist [][2]uint64 `json:"latency_hist_us"` // steady phase: [bucket, count], see hist.go

	ServerBase        procSample `json:"-"`
	ServerSteady      procSample `json:"-"`
	ServerEnd         procSample `json:"-"`
	ServerCPUPct      float64    `json:"server_cpu_pct,omitempty"`
	ServerRSSBaseMiB  float64    `json:"server_rss_base_mib,omitempty"`
	ServerRSSEndMiB   float64    `json:"server_rss_end_mib,omitempty"`
	ServerPeakRSSMiB  float64    `json:"server_rss_peak_mib,omitempty"`
	ServerBytesPerSub float64    `json:"server_bytes_per_subscriber,omitempty"`
	SelfCPUPct        float64    `json:"self_cpu_pct"`
	OtherCPUPct       float64    `json:"other_cpu_pct"` // mean over the steady phase

	// --sensors, --idle-hold and --post-url (ingest.go)
	FollowSensors          int          `json:"follow_sensors"` // subscriber i follows sensor i mod this; 0: all
	ServerIdle             procSample   `json:"-"`
	ServerIdleEnd          procSample   `json:"-"`
	IdleHoldSeconds        float64      `json:"idle_hold_s,omitempty"`
	ServerCPUIdleSeconds   float64      `json:"server_cpu_idle_hold_s,omitempty"` // utime+stime over the hold with nobody connected
	ServerCPUIdlePct       float64      `json:"server_cpu_idle_hold_pct,omitempty"`
	ServerCPUSteadySeconds float64      `json:"server_cpu_steady_s,omitempty"` // utime+stime over the steady phase
	CPUPerEventUS          float64      `json:"server_cpu_per_event_us,omitempty"`
	Post                   *PostResults `json:"post,omitempty"`

	Series []Point `json:"series"`
}

func report(res *Results, cfg config, stdout, stderr io.Writer) error {
	printSummary(stdout, res)
	if cfg.JSON != "" {
		b, err := json.MarshalIndent(res, "", "  ")
		if err != nil {
			return err
		}
		b = append(b, '\n')
		if cfg.JSON == "-" {
			if _, err := stdout.Write(b); err != nil {
				return err
			}
		} else if err := os.WriteFile(cfg.JSON, b, 0o644); err != nil {
			return err
		}
	}
	if cfg.Plot != "" {
		f, err := os.Create(cfg.Plot)
		if err != nil {
			return err
		}
		writeSVG(f, res)
		if err := f.Close(); err != nil {
			return err
		}
	}
	if res.Interrupted {
		fmt.Fprintln(stderr, "ssebench: interrupted; figures cover the time run")
	}
	return nil
}

func printSummary(w io.Writer, r *Results) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	row := func(k, f string, a ...any) { fmt.Fprintf(tw, "%s\t%s\n", k, fmt.Sprintf(f, a...)) }
	name := r.URL
	if r.Label != "" {
		name = r.Label + " (" + r.URL + ")"
	}
	row("run", "%s, shard %s, parser %s, %d source addresses", name, r.Shard, r.Parser, r.Sources)
	row("subscribers", "%d asked (this shard), %d connected after ramp of %.1fs (%.0f conn/s), %d connected at end", r.Mine, r.ConnectedAfterRamp, r.RampSeconds, r.ConnsPerSec, r.ConnectedAtEnd)
	row("connect (dial+head)", "p50 %.2fms p99 %.2fms max %.2fms", r.ConnectTime.P50, r.ConnectTime.P99, r.ConnectTime.Max)
	row("first event", "p50 %.2fms p99 %.2fms max %.2fms", r.FirstEvent.P50, r.FirstEvent.P99, r.FirstEvent.Max)
	row("steady phase", "%.1fs: %d events, %.0f events/s delivered; server published %.1f events/s (newest ID suffix)", r.SteadySeconds, r.SteadyEvents, r.EventsPerSec, r.PublishedPerSec)
	row("latency (steady)", "p50 %.2fms p90 %.2fms p99 %.2fms max %.2fms (%d samples)", r.Latency.P50, r.Latency.P90, r.Latency.P99, r.Latency.Max, r.Latency.N)
	row("latency (whole run)", "p50 %.2fms p90 %.2fms p99 %.2fms max %.2fms", r.LatencyAll.P50, r.LatencyAll.P90, r.LatencyAll.P99, r.LatencyAll.Max)
	row("events", "%d live, %d taken before their connection (latest/replayed), %d without at", r.Events, r.Backlog, r.NoAt)
	row("IDs", "lost %d (%d clients), duplicated %d, epoch changes %d, opaque %d, max behind newest at end %d", r.Lost, r.ClientsWithLoss, r.Dup, r.EpochChanges, r.OpaqueIDs, r.BehindAtEndMax)
	if r.LossMethod != "" && r.LossMethod != "gaps in IDs" {
		row("loss counted by", "%s", r.LossMethod)
	}
	printIngest(row, r)
	row("connections", "dial errors %d, HTTP errors %d, disconnects %d, reconnects %d, resets %d", r.DialErrors, r.HTTPErrors, r.Disconnects, r.Reconnects, r.Resets)
	if r.StallFraction > 0 {
		row("stalled", "%d subscribers stopped reading; %d closed by the server by the end", r.StalledClients, r.StalledClosedByServer)
	}
	if len(r.EndErrors) > 0 {
		keys := make([]string, 0, len(r.EndErrors))
		for k := range r.EndErrors {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		var parts []string
		for _, k := range keys {
			parts = append(parts, fmt.Sprintf("%s ×%d", k, r.EndErrors[k]))
		}
		row("stream ends", "%s", strings.Join(parts, "; "))
	}
	if r.ServerRSSEndMiB > 0 {
		row("server", "cpu %.1f%% of a core (steady), rss %.1f → %.1f MiB (peak %.1f), %.0f bytes per subscriber", r.ServerCPUPct, r.ServerRSSBaseMiB, r.ServerRSSEndMiB, r.ServerPeakRSSMiB, r.ServerBytesPerSub)
	}
	row("load tool", "cpu %.1f%% of a core (steady), fd limit %d; other processes %.1f%% of a core (steady mean)", r.SelfCPUPct, r.FDLimit, r.OtherCPUPct)
	tw.Flush()
}

// printIngest adds the rows of --sensors, --post-url and --idle-hold.
func printIngest(row func(k, f string, a ...any), r *Results) {
	if r.FollowSensors > 0 {
		row("filter", "subscriber i follows one sensor, i mod %d (?sensor=)", r.FollowSensors)
	}
	if p := r.Post; p != nil {
		row("ingest", "%d sensors × %g/s to %s (connections: %d): %d sent, %d accepted (statuses %s), errors %d; accepted %.0f/s in the hold without subscribers, %.0f/s in the steady phase",
			p.Sensors, p.RatePerSensor, p.URL, p.Conns, p.Sent, p.Accepted, statuses(p.Statuses), p.Errors, p.IdlePerSec, p.SteadyPerSec)
		row("ingest timing", "send lag behind schedule p50 %.2fms p99 %.2fms max %.2fms; answer p50 %.2fms p99 %.2fms max %.2fms",
			p.SendLag.P50, p.SendLag.P99, p.SendLag.Max, p.AnswerTime.P50, p.AnswerTime.P99, p.AnswerTime.Max)
		if len(p.ErrorSamples) > 0 {
			row("ingest errors", "%s", statuses(p.ErrorSamples))
		}
		row("loss (poster's IDs)", "expected %d, received %d, lost %d (%d subscribers), duplicated %d, of sensors not followed %d; drain %.1fs, other epochs %d",
			p.Expected, p.Got, p.Lost, p.LossClients, p.Dup, p.Foreign, p.DrainSeconds, p.OtherEpochs)
	}
	if r.IdleHoldSeconds > 0 {
		row("hold, nobody connected", "%.1fs: server cpu %.1f%% of a core (%.2fs CPU)", r.IdleHoldSeconds, r.ServerCPUIdlePct, r.ServerCPUIdleSeconds)
		row("hold, subscribed", "%.1fs: server cpu %.1f%% of a core (%.2fs CPU), %d events delivered", r.SteadySeconds, r.ServerCPUPct, r.ServerCPUSteadySeconds, r.SteadyEvents)
		row("CPU per delivered event", "%.2f µs (CPU subscribed − CPU with nobody connected, over the events delivered)", r.CPUPerEventUS)
	}
}

// statuses formats counts by key, sorted: "202 ×980; 429 ×20".
func statuses(m map[string]int) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s ×%d", k, m[k]))
	}
	return strings.Join(parts, "; ")
}
