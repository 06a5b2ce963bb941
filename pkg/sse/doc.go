// Package sse is tempstream's Server-Sent Events engine: event encoding and
// parsing (WHATWG HTML, "Server-sent events"), streams with a bounded replay
// ring, fan-out that never blocks on a subscriber, and the http.Handler that
// serves a stream.
//
// The pieces, one file each:
//
//   - errors.go: the sentinel errors; reason.go: reset reasons and why a response ended.
//   - encode.go: AppendEvent, AppendComment, AppendRetry: the wire format.
//   - parse.go: Reader, a spec-exact parser of an event stream (clients, tests, fuzzing).
//   - id.go: event IDs "<epoch>-<seq>", unique across restarts.
//   - ring.go: the bounded ring of encoded events; keylog.go: each key's events and followers.
//   - stream.go: Stream; publish.go: PublishBatch, Append and the fan-out;
//     subscribe.go: SubscribeWith; resume.go: resume points, Since, Latest.
//   - subscription.go: one subscriber's cursor, wake-up and eviction.
//   - broker.go: Broker: the fixed set of named streams.
//   - handler.go: Handler: serves a stream over HTTP.
//   - deliver.go: the one delivery step every response takes, and its sinks' contract.
//   - hijack.go: hands a plain HTTP/1.1 response over to the writer pool.
//   - pool.go, pconnlist.go: the writer pool: a few goroutines write every pooled
//     response with non-blocking writes, so an idle subscriber holds no goroutine.
//   - rawwrite_unix.go (rawwrite_other.go elsewhere): the pool's direct descriptor writes.
//   - hangup_linux.go (hangup_other.go elsewhere): the epoll watcher of pooled clients that hang up.
//   - metrics.go: Prometheus collectors.
//
// Delivery model: every published event is encoded once into a frame and kept
// in the stream's ring, and in its key's log. Subscribers do not have private
// queues of events; each has a cursor (into the ring, or into the logs of the
// keys it follows) and a one-slot wake-up. Publishing stores the frame, then
// wakes the subscribers that receive it (the followers of its key and those
// of every key) with non-blocking sends, so a publisher never waits for a
// subscriber and an event costs nothing for subscribers of other keys. A
// subscriber whose client is not taking its writes is evicted once its
// backlog of live events grows past its queue limit, or once a write misses
// the write deadline; its client reconnects with Last-Event-ID and catches up
// from the ring. With Handler.Writers set, the subscribers of plain HTTP/1.1
// responses are woken onto the ready list of the writer that owns their
// sockets.
package sse
