// Package sse is tempstream's Server-Sent Events engine: event encoding and
// parsing (WHATWG HTML, "Server-sent events"), streams with a bounded replay
// ring, fan-out that never blocks on a subscriber, and the http.Handler that
// serves a stream.
//
// The pieces, one file each:
//
//   - encode.go: AppendEvent, AppendComment, AppendRetry: the wire format.
//   - parse.go: Reader, a spec-exact parser of an event stream (clients, tests, fuzzing).
//   - id.go: event IDs "<epoch>-<seq>", unique across restarts.
//   - ring.go: the bounded ring of encoded events.
//   - stream.go: Stream: Publish, Subscribe, replay and the live seam.
//   - subscription.go: one subscriber's cursor, wake-up and eviction.
//   - broker.go: Broker: the fixed set of named streams.
//   - handler.go: Handler: serves a stream over HTTP.
//   - hijack.go: hands a plain HTTP/1.1 response over to the writer pool.
//   - pool.go: the writer pool: a few goroutines write every pooled response
//     with non-blocking writes, so an idle subscriber holds no goroutine.
//   - hangup_linux.go: the epoll watcher of pooled clients that hang up.
//   - metrics.go: Prometheus collectors.
//
// Delivery model: every published event is encoded once into a frame and kept
// in the stream's ring. Subscribers do not have private queues of events; each
// has a cursor into the ring and a one-slot wake-up channel. Publishing stores
// the frame, then wakes every subscriber with a non-blocking send, so a
// publisher never waits for a subscriber. A subscriber whose client is not
// taking its writes is evicted once its backlog of live events grows past its
// queue limit, or once a write misses the write deadline; its client
// reconnects with Last-Event-ID and catches up from the ring. With
// Handler.Writers set, the subscribers of plain HTTP/1.1 responses share the
// wake-up channel of the writer that owns their sockets.
package sse
