package sse

import (
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
)

var benchData = []byte(`{"data":"23.45","celsius":23.45,"sensor":"sim-1","at":"2026-11-26T01:02:03.456Z"}`)

// BenchmarkAppendEvent: encoding one reading event (0 allocations).
func BenchmarkAppendEvent(b *testing.B) {
	ev := Event{ID: "mwwzcmt4-123456", Type: "temperature", Data: benchData}
	buf := make([]byte, 0, 256)
	b.ReportAllocs()
	b.SetBytes(int64(len(benchData)))
	for b.Loop() {
		buf, _ = AppendEvent(buf[:0], ev)
	}
}

// BenchmarkPublish10kSubscribers: one event published to 10,000 subscribers,
// each on its own goroutine reading its frames, as handlers do. One op is one
// event delivered to all of them (the clock stops once all have read all).
func BenchmarkPublish10kSubscribers(b *testing.B) {
	const n = 10000
	s := NewStream("t", StreamOptions{Epoch: "e", Retention: 1 << 16, QueueLimit: 1 << 15})
	var ready, done sync.WaitGroup
	stop := make(chan struct{})
	var final atomic.Uint64 // the last event's seq, once published
	for range n {
		sub, _ := s.Subscribe("", nil)
		ready.Add(1)
		done.Go(func() {
			defer sub.Close()
			ready.Done()
			frames := make([][]byte, 0, 64)
			for {
				frames, _ = sub.Next(frames[:0], 64)
				if len(frames) > 0 {
					continue
				}
				if f := final.Load(); f != 0 && sub.cursor.Load() > f {
					return
				}
				select {
				case <-sub.Wake():
				case <-stop:
				}
			}
		})
	}
	ready.Wait()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := s.Publish("temperature", benchData); err != nil {
			b.Fatal(err)
		}
	}
	// Delivered means every subscriber has read every event.
	final.Store(s.head.Load())
	close(stop)
	done.Wait()
	b.StopTimer()
	b.ReportMetric(float64(n), "subscribers")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/delivery")
}

// BenchmarkPublishKeyed10kSubscribers1kKeys: 10,000 subscribers, each on
// its own goroutine following one of 1,000 keys (10 per key); each op
// publishes one event to the next key, which its 10 followers read. The
// time per op should track the key's followers, not the 10,000: compare its
// ns/delivery with BenchmarkPublish10kSubscribers'.
func BenchmarkPublishKeyed10kSubscribers1kKeys(b *testing.B) {
	const n, nkeys = 10000, 1000
	s := NewStream("t", StreamOptions{Epoch: "e", Retention: 1 << 16, QueueLimit: 1 << 15})
	keys := make([]string, nkeys)
	for i := range keys {
		keys[i] = fmt.Sprintf("sensor-%d", i)
	}
	var ready, done sync.WaitGroup
	stop := make(chan struct{})
	var read atomic.Int64
	for i := range n {
		sub, _ := s.SubscribeWith(SubscribeOptions{Keys: []string{keys[i%nkeys]}})
		ready.Add(1)
		done.Go(func() {
			defer sub.Close()
			ready.Done()
			frames := make([][]byte, 0, 64)
			for {
				frames, _ = sub.Next(frames[:0], 64)
				if len(frames) > 0 {
					read.Add(int64(len(frames)))
					continue
				}
				select {
				case <-sub.Wake():
				case <-stop:
					return
				}
			}
		})
	}
	ready.Wait()
	msg := []Message{{Type: "temperature", Data: benchData}}
	published := 0
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		msg[0].Key = keys[published%nkeys]
		if _, err := s.PublishBatch(msg); err != nil {
			b.Fatal(err)
		}
		published++
	}
	// Delivered means every follower has read every event of its key.
	for read.Load() < int64(published)*(n/nkeys) {
		runtime.Gosched()
	}
	b.StopTimer()
	close(stop)
	done.Wait()
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(published*(n/nkeys)), "ns/delivery")
}

// BenchmarkReplay1000: a resuming subscriber gets 1,000 retained events.
func BenchmarkReplay1000(b *testing.B) {
	s := NewStream("t", StreamOptions{Epoch: "e", Retention: 4096})
	for range 2000 {
		_, _ = s.Publish("temperature", benchData)
	}
	from := FormatID("e", 1000)
	frames := make([][]byte, 0, 1024)
	b.ReportAllocs()
	for b.Loop() {
		sub, _ := s.Subscribe(from, nil)
		frames, _ = sub.Next(frames[:0], 2000)
		if len(frames) != 1000 {
			b.Fatalf("replayed %d", len(frames))
		}
		sub.Close()
	}
}

// BenchmarkRetainedBytesPerEvent: the heap an event costs while retained,
// with 1,000 keys of 360 events each (the ring, the keys' logs, the
// entries, their IDs and frames), after a GC. Reported as bytes/event; the
// time per op is of no interest.
func BenchmarkRetainedBytesPerEvent(b *testing.B) {
	const nkeys, perKey = 1000, 360
	keys := make([]string, nkeys)
	for i := range keys {
		keys[i] = fmt.Sprintf("sensor-%d", i)
	}
	var perEvent float64
	for b.Loop() {
		var m0, m1 runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&m0)
		s := NewStream("t", StreamOptions{Epoch: "mx6dizxy", Retention: 3600, MaxKeys: nkeys})
		msg := []Message{{Type: "temperature", Data: benchData}}
		for range perKey {
			for _, k := range keys {
				msg[0].Key = k
				if _, err := s.PublishBatch(msg); err != nil {
					b.Fatal(err)
				}
			}
		}
		runtime.GC()
		runtime.ReadMemStats(&m1)
		perEvent = float64(m1.HeapAlloc-m0.HeapAlloc) / (nkeys * perKey)
		runtime.KeepAlive(s)
	}
	b.ReportMetric(perEvent, "bytes/event")
}
