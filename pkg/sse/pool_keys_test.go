package sse_test

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tempstream/tempstream/internal/testharness"
	"github.com/tempstream/tempstream/pkg/sse"
	"github.com/tempstream/tempstream/pkg/sse/ssetest"
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
// in the pool, 60 events of keys a, b and c cost at most a visit per
// response that receives one (a's follower, b,a's and the unfiltered one),
// never a visit of the 50 idle followers of other keys.
func TestPooledFollowersGetOnlyTheirKeys(t *testing.T) {
	b := sse.NewBroker(sse.StreamOptions{Epoch: "e"}, "s")
	st, _ := b.Stream("s")
	h := &sse.Handler{Broker: b, Writers: 1, Keys: keysParam, Heartbeat: time.Hour}
	srv := sse.MustServePooled(t, h)
	a := dial(t, srv.URL+"?key=a", "")
	ab := dial(t, srv.URL+"?key=b,a", "")
	all := dial(t, srv.URL, "")
	for i := range 50 {
		dial(t, srv.URL+fmt.Sprintf("?key=idle-%d", i), "")
	}
	testharness.WaitFor(t, poolWait, "every response in the pool", func() bool { return h.Pooled() == 53 })
	// Each response is visited once as it joins its shard: wait for those
	// visits, so that only the publishes' are counted.
	testharness.WaitFor(t, poolWait, "the pool's first visit of each response", func() bool { return h.Serves() >= 53 })
	before := h.Serves()
	var want, wantAB, wantAll []string
	for i := range 60 {
		key := []string{"a", "b", "c"}[i%3]
		ids, err := st.PublishBatch([]sse.Message{{Type: "t", Key: key, Data: []byte(key)}})
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
		sub  *ssetest.Stream
		want []string
	}{{"a", a, want}, {"b,a", ab, wantAB}, {"all", all, wantAll}} {
		for i, id := range tc.want {
			if ev := tc.sub.MustNext(t, poolWait); ev.LastEventID != id {
				t.Fatalf("follower of %s: event %d is %s, want %s", tc.name, i, ev.LastEventID, id)
			}
		}
	}
	// 20 events reach a, 40 reach b,a and 60 every key's: 120 visits at
	// most, fewer when one visit writes several events.
	if visits := h.Serves() - before; visits > 120 {
		t.Fatalf("60 events took %d visits of pooled responses, want at most 120 (the responses that receive them)", visits)
	}
}

// An idle follower, whose key never publishes, still gets its heartbeats
// while the shard is kept busy by another key.
func TestPooledIdleFollowerGetsHeartbeats(t *testing.T) {
	b := sse.NewBroker(sse.StreamOptions{Epoch: "e"}, "s")
	st, _ := b.Stream("s")
	h := &sse.Handler{Broker: b, Writers: 1, Keys: keysParam, Heartbeat: 50 * time.Millisecond}
	srv := sse.MustServePooled(t, h)
	idle := dial(t, srv.URL+"?key=quiet", "")
	dial(t, srv.URL+"?key=loud", "")
	testharness.WaitFor(t, poolWait, "both responses in the pool", func() bool { return h.Pooled() == 2 })
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				_, _ = st.PublishBatch([]sse.Message{{Type: "t", Key: "loud"}})
			}
		}
	})
	defer wg.Wait()
	defer close(stop)
	rec := idle.Record(t) // reads on its own goroutine, so the comments are counted
	testharness.WaitFor(t, poolWait, "three heartbeats", func() bool { return idle.Comments() >= 3 })
	if evs, _, _ := rec.Snapshot(); len(evs) != 0 {
		t.Fatalf("the follower of a quiet key got events: %+v", evs)
	}
}
