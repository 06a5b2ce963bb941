package sse

import "sort"

// Broker holds a fixed set of named streams, created with it: no client can
// create a stream. Safe for concurrent use; after Close every stream is
// closed.
type Broker struct {
	streams map[string]*Stream
	metrics *Metrics
}

// NewBroker creates one stream per name, each with opts. With opts.Metrics
// nil, the broker's metrics are unregistered.
func NewBroker(opts StreamOptions, names ...string) *Broker {
	if opts.Metrics == nil {
		opts.Metrics = NewMetrics(nil)
	}
	b := &Broker{streams: make(map[string]*Stream, len(names)), metrics: opts.Metrics}
	for _, n := range names {
		b.streams[n] = NewStream(n, opts)
	}
	return b
}

// Stream returns the stream called name.
func (b *Broker) Stream(name string) (*Stream, bool) {
	s, ok := b.streams[name]
	return s, ok
}

// Names returns the streams' names, sorted.
func (b *Broker) Names() []string {
	names := make([]string, 0, len(b.streams))
	for n := range b.streams {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Close closes every stream, ending all subscriptions.
func (b *Broker) Close() {
	for _, s := range b.streams {
		s.Close()
	}
}
