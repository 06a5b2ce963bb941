package sse

import "github.com/prometheus/client_golang/prometheus"

// Metrics are the engine's Prometheus collectors, labelled by stream. Create
// them once per registry with NewMetrics and share them between the broker's
// streams and the handler. Safe for concurrent use.
type Metrics struct {
	subscribers *prometheus.GaugeVec
	published   *prometheus.CounterVec
	delivered   *prometheus.CounterVec
	bytes       *prometheus.CounterVec
	dropped     *prometheus.CounterVec
	replays     *prometheus.CounterVec
	replayed    *prometheus.CounterVec
	resets      *prometheus.CounterVec
	heartbeats  *prometheus.CounterVec
	rejected    *prometheus.CounterVec
	blocked     prometheus.Gauge
}

// NewMetrics creates the collectors and registers them with reg, unless reg
// is nil.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	const ns = "tempstream_sse_"
	counter := func(name, help string, labels ...string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Name: ns + name, Help: help}, labels)
	}
	m := &Metrics{
		subscribers: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: ns + "subscribers", Help: "Subscribers connected now."}, []string{"stream"}),
		published:   counter("events_published_total", "Events published.", "stream"),
		delivered:   counter("events_delivered_total", "Events written to subscribers (replayed and live).", "stream"),
		bytes:       counter("bytes_delivered_total", "Bytes written to subscribers, heartbeats and retry fields included.", "stream"),
		dropped:     counter("slow_subscribers_dropped_total", "Subscribers evicted: reason queue (backlog over the queue limit) or write (write deadline missed).", "stream", "reason"),
		replays:     counter("replays_total", "Subscriptions that resumed from a Last-Event-ID.", "stream"),
		replayed:    counter("events_replayed_total", "Events sent from the ring to resuming subscribers before live ones.", "stream"),
		resets:      counter("resets_total", "Reset events sent: reason expired or unknown.", "stream", "reason"),
		heartbeats:  counter("heartbeats_total", "Heartbeat comments sent.", "stream"),
		rejected:    counter("rejected_connections_total", "Stream requests refused: reason capacity, unknown_stream, closed or bad_request.", "reason"),
		blocked: prometheus.NewGauge(prometheus.GaugeOpts{Name: ns + "writes_blocked",
			Help: "Pooled responses whose socket is full, with a write waiting for the client to read (at most --write-timeout)."}),
	}
	for _, reason := range []string{"capacity", "unknown_stream", "closed", "bad_request"} {
		m.rejected.WithLabelValues(reason) // export zeros, so rates work from the start
	}
	if reg != nil {
		reg.MustRegister(m.subscribers, m.published, m.delivered, m.bytes, m.dropped,
			m.replays, m.replayed, m.resets, m.heartbeats, m.rejected, m.blocked)
	}
	return m
}

// streamMetrics are the collectors of one stream, with labels bound once so
// the hot path does no label look-ups.
type streamMetrics struct {
	all                         *Metrics
	subscribers                 prometheus.Gauge
	published, delivered, bytes prometheus.Counter
	droppedQueue, droppedWrite  prometheus.Counter
	replays, replayed           prometheus.Counter
	heartbeats                  prometheus.Counter
	name                        string
}

func (m *Metrics) stream(name string) streamMetrics {
	for _, reason := range []ResetReason{ResetExpired, ResetUnknown} {
		m.resets.WithLabelValues(name, string(reason))
	}
	return streamMetrics{
		all:          m,
		name:         name,
		subscribers:  m.subscribers.WithLabelValues(name),
		published:    m.published.WithLabelValues(name),
		delivered:    m.delivered.WithLabelValues(name),
		bytes:        m.bytes.WithLabelValues(name),
		droppedQueue: m.dropped.WithLabelValues(name, "queue"),
		droppedWrite: m.dropped.WithLabelValues(name, "write"),
		replays:      m.replays.WithLabelValues(name),
		replayed:     m.replayed.WithLabelValues(name),
		heartbeats:   m.heartbeats.WithLabelValues(name),
	}
}

func (sm streamMetrics) reset(reason ResetReason) {
	sm.all.resets.WithLabelValues(sm.name, string(reason)).Inc()
}
