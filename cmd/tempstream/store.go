package main

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tempstream/tempstream/pkg/history"
	"github.com/tempstream/tempstream/pkg/natsjs"
	"github.com/tempstream/tempstream/pkg/reading"
	"github.com/tempstream/tempstream/pkg/sse"
)

// store is where readings go before subscribers see them: the stream's own
// ring (--store memory) or JetStream (--store nats), which feeds the ring.
type store interface {
	// Publish stores msgs all or nothing and returns their event IDs once
	// stored.
	Publish(ctx context.Context, msgs []sse.Message) ([]string, error)
	// PublishTick stores the simulator's readings for the tick at.
	PublishTick(ctx context.Context, at time.Time, msgs []sse.Message) error
	// Ready fails while readings cannot be stored.
	Ready() error
	Close()
}

var (
	_ store = (*memoryStore)(nil)
	_ store = (*natsjs.Store)(nil)
)

// memoryStore keeps readings only in the stream's ring, and records each
// in the history, hist.
type memoryStore struct {
	st   *sse.Stream
	hist *history.Memory
	mu   sync.Mutex // held from publishing to recording: the history takes readings in sequence order
}

func (m *memoryStore) Publish(_ context.Context, msgs []sse.Message) ([]string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	ids, err := m.st.PublishBatch(msgs)
	if err == nil {
		m.record(ids, msgs)
	}
	return ids, err
}

func (m *memoryStore) PublishTick(ctx context.Context, _ time.Time, msgs []sse.Message) error {
	_, err := m.Publish(ctx, msgs)
	return err
}

// record adds the readings just published as ids to the history.
func (m *memoryStore) record(ids []string, msgs []sse.Message) {
	epoch := m.st.Epoch()
	for i, id := range ids {
		recordReading(m.hist, epoch, id, msgs[i].Data)
	}
}

func (*memoryStore) Ready() error { return nil }
func (*memoryStore) Close()       {}

// messages turns readings into temperature events keyed by sensor.
func messages(rs []reading.Reading) ([]sse.Message, error) {
	msgs := make([]sse.Message, len(rs))
	for i, r := range rs {
		data, err := r.MarshalData()
		if err != nil {
			return nil, err
		}
		msgs[i] = sse.Message{Type: reading.EventType, Key: r.Sensor, Data: data}
	}
	return msgs, nil
}

// openStore opens the store cfg names, feeding temps.
func openStore(ctx context.Context, cfg config, temps *sse.Stream, log *slog.Logger, reg prometheus.Registerer) (store, error) {
	if cfg.Store == storeMemory {
		return &memoryStore{st: temps, hist: newMemoryHistory(cfg)}, nil
	}
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	s, err := natsjs.Open(ctx, temps, natsjs.Options{
		URL:        cfg.NATSURL,
		DataDir:    cfg.DataDir,
		Listen:     cfg.NATSListen,
		EventType:  reading.EventType,
		Replicas:   cfg.NATSReplicas,
		MaxAge:     cfg.MaxAge,
		Logger:     log,
		Registerer: reg,
	})
	if err != nil {
		return nil, fmt.Errorf("store nats: %w", err)
	}
	return s, nil
}
