package sse_test

import (
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tempstream/tempstream/internal/testharness"
	"github.com/tempstream/tempstream/pkg/sse"
	"github.com/tempstream/tempstream/pkg/sse/ssetest"
)

var poolBenchData = []byte(`{"data":"23.45","celsius":23.45,"sensor":"sim-1","at":"2026-11-26T01:02:03.456Z"}`)

// benchPooled opens n loopback HTTP/1.1 clients on h's server, the i-th on
// path(i), each read by a goroutine of its own (ssetest.Dial, parsed by
// sse.Reader), and returns expect, to call before publishing with the number
// of deliveries to wait for, and wait, which waits for them. It measures the
// writer pool and the kernel's loopback on both sides, and the clients'
// parsing, all on the same cores.
func benchPooled(b *testing.B, h *sse.Handler, n int, path func(i int) string) (expect func(events int64), wait func()) {
	srv := sse.MustServePooled(b, h)
	var got, target atomic.Int64
	reached := make(chan struct{}, 1)
	var readers sync.WaitGroup
	for i := range n {
		s := ssetest.Dial(b, srv.URL+path(i), ssetest.Options{})
		readers.Go(func() {
			for {
				if _, err := s.Next(time.Hour); err != nil {
					return // closed at the end
				}
				if got.Add(1) == target.Load() {
					reached <- struct{}{}
				}
			}
		})
	}
	b.Cleanup(readers.Wait) // after the connections close (cleanups run last first)
	testharness.WaitFor(b, poolWait, "every response in the pool", func() bool { return h.Pooled() == n })
	return func(events int64) { target.Add(events) }, func() { <-reached }
}

// BenchmarkPooledPublish2kSockets: one event published to 2,000 subscribers
// over real loopback sockets, written by the Handler's writer pool
// (GOMAXPROCS writers). One op is one event read by every client.
func BenchmarkPooledPublish2kSockets(b *testing.B) {
	const n = 2000
	br := sse.NewBroker(sse.StreamOptions{Epoch: "e", Retention: 1 << 16, QueueLimit: 1 << 15}, "s")
	defer br.Close()
	st, _ := br.Stream("s")
	h := &sse.Handler{Broker: br, Writers: runtime.GOMAXPROCS(0)}
	expect, wait := benchPooled(b, h, n, func(int) string { return "" })
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		expect(n)
		if _, err := st.Publish("temperature", poolBenchData); err != nil {
			b.Fatal(err)
		}
		wait()
	}
	b.StopTimer()
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/delivery")
}

// BenchmarkPooledKeyedPublish2kSockets200Keys: the same 2,000 clients, each
// following one of 200 keys (10 per key); one op publishes one event to the
// next key and waits until its 10 followers read it. Its ns/delivery next to
// BenchmarkPooledPublish2kSockets' shows whether a publish costs work for
// the followers of its key only.
func BenchmarkPooledKeyedPublish2kSockets200Keys(b *testing.B) {
	const n, nkeys = 2000, 200
	br := sse.NewBroker(sse.StreamOptions{Epoch: "e", Retention: 1 << 16, QueueLimit: 1 << 15}, "s")
	defer br.Close()
	st, _ := br.Stream("s")
	h := &sse.Handler{Broker: br, Writers: runtime.GOMAXPROCS(0), Keys: keysParam}
	expect, wait := benchPooled(b, h, n, func(i int) string { return fmt.Sprintf("?key=k%d", i%nkeys) })
	msg := []sse.Message{{Type: "temperature", Data: poolBenchData}}
	i := 0
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		msg[0].Key = fmt.Sprintf("k%d", i%nkeys)
		i++
		expect(n / nkeys)
		if _, err := st.PublishBatch(msg); err != nil {
			b.Fatal(err)
		}
		wait()
	}
	b.StopTimer()
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*(n/nkeys)), "ns/delivery")
}
