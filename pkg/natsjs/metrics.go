package natsjs

import "github.com/prometheus/client_golang/prometheus"

type metrics struct {
	lag          prometheus.Gauge
	reconnects   prometheus.Counter
	resubscribes prometheus.Counter
}

func newMetrics(reg prometheus.Registerer, s *Store) metrics {
	m := metrics{
		lag: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "tempstream_nats_consumer_lag",
			Help: "Messages in the JetStream stream this instance has not consumed yet (as of the last one consumed).",
		}),
		reconnects: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tempstream_nats_reconnects_total",
			Help: "Reconnections to NATS.",
		}),
		resubscribes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tempstream_nats_resubscribes_total",
			Help: "JetStream consumers recreated after a reconnect or a missed heartbeat.",
		}),
	}
	connected := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "tempstream_nats_connected",
		Help: "1 while connected to NATS.",
	}, func() float64 {
		if s.nc != nil && s.nc.IsConnected() {
			return 1
		}
		return 0
	})
	if reg != nil {
		reg.MustRegister(m.lag, m.reconnects, m.resubscribes, connected)
	}
	return m
}
