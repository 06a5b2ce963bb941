package main

import (
	"context"
	"fmt"
	"log/slog"
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

// openHistory returns the history GET /api/v1/history answers from: with
// --store memory, what the memory store records as it publishes; with
// --store nats, the JetStream history (summaries in a stream of their own,
// the same on every instance and across restarts), which follows the
// readings stream itself, catching up in the background.
func openHistory(ctx context.Context, st store, cfg config, log *slog.Logger) (history.Store, error) {
	switch s := st.(type) {
	case *memoryStore:
		return s.hist, nil // the store records what it publishes
	case *natsjs.Store:
		h, err := history.OpenJetStream(ctx, s.JetStream(), history.JetStreamOptions{
			Stream:     s.StreamName(),
			Subject:    s.Subject(),
			HistoryAge: cfg.HistoryAge,
			Replicas:   cfg.NATSReplicas,
			Logger:     log,
		})
		if err != nil {
			return nil, fmt.Errorf("history on jetstream: %w", err)
		}
		return h, nil
	default:
		return nil, fmt.Errorf("history: no history for a %T store", st)
	}
}
