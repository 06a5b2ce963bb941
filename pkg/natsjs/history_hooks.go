package natsjs

import "github.com/nats-io/nats.go/jetstream"

// What pkg/history needs to follow the readings stream and keep its
// summaries beside it (history.OpenJetStream): the JetStream handle of this
// store's connection, and the stream's name and subject prefix.

// JetStream returns the store's JetStream handle (nil after a failed Open).
// It stays usable until Close.
func (s *Store) JetStream() jetstream.JetStream { return s.js }

// StreamName is the JetStream stream readings are stored in ("TEMPSTREAM").
func (s *Store) StreamName() string { return s.o.StreamName }

// Subject is the prefix of the readings' subjects: <Subject>.<sensor>
// ("tempstream.temperature"; the empty sensor is "_").
func (s *Store) Subject() string { return s.o.Subject }
