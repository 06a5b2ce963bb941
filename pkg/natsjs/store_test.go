package natsjs

import (
	"context"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/tempstream/tempstream/pkg/sse"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// MustOpen opens a store on an embedded server in dir, feeding a new stream.
func MustOpen(tb testing.TB, dir string, retention int) (*Store, *sse.Stream) {
	tb.Helper()
	st := sse.NewStream("temperature", sse.StreamOptions{Retention: retention, FedByLog: true})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := Open(ctx, st, Options{DataDir: dir})
	if err != nil {
		tb.Fatal(err)
	}
	return s, st
}

// readAll reads from sub until it holds n frames, or fails at the deadline.
func readAll(tb testing.TB, sub *sse.Subscription, n int) []string {
	tb.Helper()
	var ids []string
	deadline := time.After(10 * time.Second)
	for len(ids) < n {
		frames, err := sub.Next(nil, 1000)
		if err != nil {
			tb.Fatal(err)
		}
		for _, f := range frames {
			line, _, _ := strings.Cut(string(f), "\n")
			ids = append(ids, strings.TrimPrefix(line, "id: "))
		}
		if len(frames) == 0 {
			select {
			case <-sub.Wake():
			case <-deadline:
				tb.Fatalf("got %d of %d events: %v", len(ids), n, ids)
			}
		}
	}
	return ids
}

func msgs(keys ...string) []sse.Message {
	out := make([]sse.Message, len(keys))
	for i, k := range keys {
		out[i] = sse.Message{Type: "temperature", Key: k, Data: []byte(`{"sensor":"` + k + `"}`)}
	}
	return out
}

func TestPublishedBatchReachesTheStreamWithJetStreamIDs(t *testing.T) {
	s, st := MustOpen(t, t.TempDir(), 100)
	defer s.Close()
	sub, _ := st.Subscribe(sse.Earliest, nil)
	defer sub.Close()
	ids, err := s.Publish(context.Background(), msgs("a", "b", "c"))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(ids, ",") != "1,2,3" {
		t.Fatalf("ids = %v", ids)
	}
	if one, err := s.Publish(context.Background(), msgs("a")); err != nil || one[0] != "4" {
		t.Fatalf("single: %v %v", one, err)
	}
	if got := readAll(t, sub, 4); strings.Join(got, ",") != "1,2,3,4" {
		t.Fatalf("stream got %v", got)
	}
	if err := s.Ready(); err != nil {
		t.Fatal(err)
	}
}

func TestTicksAreDeduplicated(t *testing.T) {
	s, st := MustOpen(t, t.TempDir(), 100)
	defer s.Close()
	at := time.UnixMilli(1_700_000_000_000)
	for range 3 { // three instances simulating the same tick
		if err := s.PublishTick(context.Background(), at, msgs("sim-1", "sim-2")); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.PublishTick(context.Background(), at.Add(time.Second), msgs("sim-1")); err != nil {
		t.Fatal(err)
	}
	sub, _ := st.Subscribe(sse.Earliest, nil)
	defer sub.Close()
	if got := readAll(t, sub, 3); strings.Join(got, ",") != "1,2,3" {
		t.Fatalf("got %v, want each tick once", got)
	}
	if items, _ := st.Since("", nil, 100); len(items) != 3 {
		t.Fatalf("stream holds %d events, want 3", len(items))
	}
}

func TestRestartRefillsTheRingWithTheSameIDs(t *testing.T) {
	dir := t.TempDir()
	s, _ := MustOpen(t, dir, 5)
	for range 4 {
		if _, err := s.Publish(context.Background(), msgs("a", "b")); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()

	s2, st2 := MustOpen(t, dir, 5)
	defer s2.Close()
	sub, _ := st2.Subscribe("4", nil) // a client that had read up to 4
	defer sub.Close()
	// JetStream keeps the newest 5 (MaxMsgs = retention): 4 … 8.
	if got := readAll(t, sub, 4); strings.Join(got, ",") != "5,6,7,8" || sub.Reset != nil {
		t.Fatalf("after restart: %v, reset %+v", got, sub.Reset)
	}
	ids, err := s2.Publish(context.Background(), msgs("a"))
	if err != nil || ids[0] != "9" {
		t.Fatalf("numbering after restart: %v %v", ids, err)
	}
}
