package sse

import (
	"bufio"
	"bytes"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
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

// BenchmarkPooledPublish2kSockets: one event published to 2,000 subscribers
// over real loopback sockets, written by the Handler's writer pool
// (GOMAXPROCS writers) and read by a goroutine per client. One op is one
// event read by every client; it includes the kernel's work on both sides
// and the clients' reads (which count ID lines, allocating nothing).
func BenchmarkPooledPublish2kSockets(b *testing.B) {
	const n = 2000
	br := NewBroker(StreamOptions{Epoch: "e", Retention: 1 << 16, QueueLimit: 1 << 15}, "s")
	defer br.Close()
	st, _ := br.Stream("s")
	h := &Handler{Broker: br, Writers: runtime.GOMAXPROCS(0)}
	srv := MustServePooled(b, h)
	var got, target atomic.Int64
	reached := make(chan struct{}, 1)
	var readers sync.WaitGroup
	for range n {
		s := dialSub(b, srv.URL, nil)
		_ = s.c.SetReadDeadline(time.Time{})
		readers.Go(func() {
			// Count "id:" lines, without parsing or allocating, so
			// that the figures are the server's.
			br := bufio.NewReaderSize(s.resp.Body, 4096)
			for {
				line, err := br.ReadSlice('\n')
				if err != nil {
					return // closed at the end
				}
				if bytes.HasPrefix(line, []byte("id: ")) && got.Add(1) == target.Load() {
					reached <- struct{}{}
				}
			}
		})
	}
	b.Cleanup(readers.Wait) // after the connections close (cleanups run last first)
	waitFor(b, "every response in the pool", func() bool { return h.pooled() == n })
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		target.Add(n)
		if _, err := st.Publish("temperature", benchData); err != nil {
			b.Fatal(err)
		}
		<-reached
	}
	b.StopTimer()
	b.ReportMetric(float64(n), "subscribers")
}
