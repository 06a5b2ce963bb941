package sse

import (
	"bufio"
	"bytes"
	"fmt"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// keysParam reads the keys a test client follows from ?key=a,b.
func keysParam(r *http.Request) ([]string, error) {
	if v := r.URL.Query().Get("key"); v != "" {
		return strings.Split(v, ","), nil
	}
	return nil, nil
}

// Pooled followers of keys get exactly their keys' events, in order, and a
// publish visits only the responses that receive it: after the clients are
// in the pool, 60 events of key a cost about 60 visits of a's follower and
// the unfiltered response each, not a visit of each of the 50 idle
// followers of other keys.
func TestPooledFollowersGetOnlyTheirKeys(t *testing.T) {
	b := NewBroker(StreamOptions{Epoch: "e"}, "s")
	st, _ := b.Stream("s")
	h := &Handler{Broker: b, Writers: 1, Keys: keysParam, Heartbeat: time.Hour}
	srv := MustServePooled(t, h)
	a := dialSub(t, srv.URL+"?key=a", nil)
	ab := dialSub(t, srv.URL+"?key=b,a", nil)
	all := dialSub(t, srv.URL, nil)
	for i := range 50 {
		dialSub(t, srv.URL+fmt.Sprintf("?key=idle-%d", i), nil)
	}
	waitFor(t, "every response in the pool", func() bool { return h.pooled() == 53 })
	before := h.pool.serves.Load()
	var want, wantAB, wantAll []string
	for i := range 60 {
		key := []string{"a", "b", "c"}[i%3]
		ids, err := st.PublishBatch([]Message{{Type: "t", Key: key, Data: []byte(key)}})
		if err != nil {
			t.Fatal(err)
		}
		if key == "a" {
			want = append(want, ids[0])
		}
		if key != "c" {
			wantAB = append(wantAB, ids[0])
		}
		wantAll = append(wantAll, ids[0])
	}
	for _, tc := range []struct {
		name string
		sub  *rawSub
		want []string
	}{{"a", a, want}, {"b,a", ab, wantAB}, {"all", all, wantAll}} {
		for i, id := range tc.want {
			if ev := tc.sub.next(t); ev.LastEventID != id {
				t.Fatalf("follower of %s: event %d is %s, want %s", tc.name, i, ev.LastEventID, id)
			}
		}
	}
	// 20 events reach a, 40 reach b,a and 60 every key's: 120 visits at
	// most, fewer when one visit writes several events.
	if visits := h.pool.serves.Load() - before; visits > 120 {
		t.Fatalf("60 events took %d visits of pooled responses, want at most 120 (the responses that receive them)", visits)
	}
}

// An idle follower, whose key never publishes, still gets its heartbeats.
func TestPooledIdleFollowerGetsHeartbeats(t *testing.T) {
	b := NewBroker(StreamOptions{Epoch: "e"}, "s")
	st, _ := b.Stream("s")
	h := &Handler{Broker: b, Writers: 1, Keys: keysParam, Heartbeat: 50 * time.Millisecond}
	srv := MustServePooled(t, h)
	idle := dialSub(t, srv.URL+"?key=quiet", nil)
	busy := dialSub(t, srv.URL+"?key=loud", nil)
	waitFor(t, "both responses in the pool", func() bool { return h.pooled() == 2 })
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() { // keep the shard busy with another key meanwhile
		for {
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
				_, _ = st.PublishBatch([]Message{{Type: "t", Key: "loud"}})
			}
		}
	})
	defer wg.Wait()
	defer close(stop)
	_ = busy
	br := bufio.NewReader(idle.resp.Body)
	_ = idle.c.SetReadDeadline(time.Now().Add(10 * time.Second))
	for beats := 0; beats < 3; {
		line, err := br.ReadString('\n')
		if err != nil {
			t.Fatalf("after %d heartbeats: %v", beats, err)
		}
		if strings.HasPrefix(line, "id:") {
			t.Fatalf("the follower of a quiet key got an event: %q", line)
		}
		if line == ": heartbeat\n" {
			beats++
		}
	}
}

// BenchmarkPooledKeyedPublish2kSockets200Keys: 2,000 subscribers over real
// loopback sockets, each following one of 200 keys (10 per key), written by
// the Handler's writer pool; one op publishes one event to the next key and
// waits until its 10 followers read it. Compare its ns/delivery with
// BenchmarkPooledPublish2kSockets' (every subscriber gets every event).
func BenchmarkPooledKeyedPublish2kSockets200Keys(b *testing.B) {
	const n, nkeys = 2000, 200
	br := NewBroker(StreamOptions{Epoch: "e", Retention: 1 << 16, QueueLimit: 1 << 15}, "s")
	defer br.Close()
	st, _ := br.Stream("s")
	h := &Handler{Broker: br, Writers: runtime.GOMAXPROCS(0), Keys: keysParam}
	srv := MustServePooled(b, h)
	var got, target atomic.Int64
	reached := make(chan struct{}, 1)
	var readers sync.WaitGroup
	for i := range n {
		s := dialSub(b, fmt.Sprintf("%s?key=k%d", srv.URL, i%nkeys), nil)
		_ = s.c.SetReadDeadline(time.Time{})
		readers.Go(func() {
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
	b.Cleanup(readers.Wait)
	waitFor(b, "every response in the pool", func() bool { return h.pooled() == n })
	msg := []Message{{Type: "temperature", Data: benchData}}
	i := 0
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		target.Add(n / nkeys)
		msg[0].Key = fmt.Sprintf("k%d", i%nkeys)
		i++
		if _, err := st.PublishBatch(msg); err != nil {
			b.Fatal(err)
		}
		<-reached
	}
	b.StopTimer()
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*(n/nkeys)), "ns/delivery")
}
