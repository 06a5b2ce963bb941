package main

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/tempstream/tempstream/pkg/history"
	"github.com/tempstream/tempstream/pkg/natsjs"
	"github.com/tempstream/tempstream/pkg/reading"
	"github.com/tempstream/tempstream/pkg/sse"
)

// newMemoryHistory is the history this process holds: summaries for
// --history-age, the latest --retention readings of each sensor raw, for
// at most --max-sensors sensors.
func newMemoryHistory(cfg config) *history.Memory {
	return history.NewMemory(history.MemoryOptions{
		Age:          cfg.HistoryAge,
		RawPerSensor: cfg.Retention,
		MaxSensors:   cfg.MaxSensors,
	})
}

// recordReading adds the reading an event carried (its ID in epoch, its
// data) to hist; events that are not readings are left out.
func recordReading(hist *history.Memory, epoch, id string, data []byte) {
	seq, ok := sse.ParseID(epoch, id)
	if !ok {
		return
	}
	it, err := reading.ParseItem(id, data)
	if err != nil {
		return
	}
	at, err := time.Parse(time.RFC3339Nano, it.At)
	if err != nil {
		return
	}
	hist.Record(history.Sample{Seq: seq, Sensor: it.Sensor, At: at, Celsius: it.Celsius})
}

// openHistory returns the history GET /api/v1/history answers from, and,
// when it must be fed, the function that feeds it until its context ends
// (run runs it; nil when nothing needs to run).
func openHistory(st store, temps *sse.Stream, cfg config, log *slog.Logger) (history.Store, func(context.Context), error) {
	switch s := st.(type) {
	case *memoryStore:
		return s.hist, nil, nil // the store records what it publishes
	case *natsjs.Store:
		// HOOK(history.OpenJetStream): open the durable history here once
		// pkg/history's JetStream store is on this branch, e.g.
		//
		//	h, err := history.OpenJetStream(ctx, …, cfg.HistoryAge)
		//	return h, nil, err
		//
		// and drop ringHistory. Until then the history is what this
		// process saw of the stream since it started (Kind "memory").
		h := &ringHistory{Memory: newMemoryHistory(cfg), temps: temps, log: log}
		return h, h.follow, nil
	default:
		return nil, nil, fmt.Errorf("history: no history for a %T store", st)
	}
}

// ringHistory is a memory history fed from the temperature stream's ring
// (which JetStream fills with every instance's readings): it catches up
// before each query and every second, so it misses readings only when the
// ring's span (sensors × --retention) passes in a second; a gap is logged
// once. The interim history of --store nats.
type ringHistory struct {
	*history.Memory
	temps *sse.Stream
	log   *slog.Logger

	mu     sync.Mutex
	last   string // ID of the last event recorded; "" before the first
	missed bool   // a gap was logged
}

// ringBatch is how many events a catch-up reads at a time.
const ringBatch = 1000

// catchUp records the events published since the last one recorded.
func (h *ringHistory) catchUp() {
	h.mu.Lock()
	defer h.mu.Unlock()
	epoch := h.temps.Epoch()
	for {
		items, reset := h.temps.Since(h.last, nil, ringBatch)
		if reset != nil && h.last != "" && !h.missed {
			h.missed = true
			h.log.Warn("history: readings left the replay ring before they were recorded", "reason", reset.Reason, "last", h.last)
		}
		for _, it := range items {
			if it.Type == reading.EventType {
				recordReading(h.Memory, epoch, it.ID, it.Data)
			}
		}
		if len(items) == 0 {
			return
		}
		h.last = items[len(items)-1].ID
		if len(items) < ringBatch {
			return
		}
	}
}

// follow catches up every second until ctx is done.
func (h *ringHistory) follow(ctx context.Context) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		h.catchUp()
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (h *ringHistory) Summaries(ctx context.Context, sensor string, g history.Granularity, from, to time.Time) ([]history.Bucket, error) {
	h.catchUp()
	return h.Memory.Summaries(ctx, sensor, g, from, to)
}

func (h *ringHistory) Raw(ctx context.Context, sensor string, from, to time.Time, limit int) ([]history.Sample, bool, error) {
	h.catchUp()
	return h.Memory.Raw(ctx, sensor, from, to, limit)
}
