// Package natsjs puts tempstream's streams on NATS JetStream: readings are
// stored in a JetStream stream (embedded NATS server by default, or an
// external cluster), and each instance consumes that stream once, appending
// every message to its in-memory sse.Stream under the message's JetStream
// sequence number, with the JetStream stream's creation time as the IDs'
// epoch. So event IDs are the same on every instance, survive restarts, and a
// client can resume on any instance; a stream created anew has a new epoch.
//
// One idea per file: embedded.go starts the in-process server, store.go
// connects, creates the stream and consumes it, publish.go writes readings
// (atomic batches, de-duplicated ticks), metrics.go exports lag and
// reconnects.
package natsjs
