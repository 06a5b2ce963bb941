package natsjs

import (
	"context"
	"errors"
	"os"
	"strconv"
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

// seqs returns the sequence numbers of ids, which must all be of st's
// epoch, as a comma-separated list.
func seqs(tb testing.TB, st *sse.Stream, ids []string) string {
	tb.Helper()
	out := make([]string, len(ids))
	for i, id := range ids {
		n, ok := sse.ParseID(st.Epoch(), id)
		if !ok {
			tb.Fatalf("id %q is not of the stream's epoch %q", id, st.Epoch())
		}
		out[i] = strconv.FormatUint(n, 10)
	}
	return strings.Join(out, ",")
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
	if st.Epoch() == "" || seqs(t, st, ids) != "1,2,3" {
		t.Fatalf("ids = %v (epoch %q)", ids, st.Epoch())
	}
	if one, err := s.Publish(context.Background(), msgs("a")); err != nil || seqs(t, st, one) != "4" {
		t.Fatalf("single: %v %v", one, err)
	}
	if got := readAll(t, sub, 4); seqs(t, st, got) != "1,2,3,4" {
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
	if got := readAll(t, sub, 3); seqs(t, st, got) != "1,2,3" {
		t.Fatalf("got %v, want each tick once", got)
	}
	if items, _ := st.Since("", nil, 100); len(items) != 3 {
		t.Fatalf("stream holds %d events, want 3", len(items))
	}
}

func TestRestartRefillsTheRingWithTheSameIDs(t *testing.T) {
	dir := t.TempDir()
	s, st := MustOpen(t, dir, 5)
	for range 4 {
		if _, err := s.Publish(context.Background(), msgs("a", "b")); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()

	s2, st2 := MustOpen(t, dir, 5)
	defer s2.Close()
	if st2.Epoch() != st.Epoch() {
		t.Fatalf("epoch %q after a restart on the same store, was %q", st2.Epoch(), st.Epoch())
	}
	sub, _ := st2.Subscribe(sse.FormatID(st.Epoch(), 4), nil) // a client that had read up to 4
	defer sub.Close()
	// The ring holds what JetStream kept (5 of each sensor: all 8), refilled.
	if got := readAll(t, sub, 4); seqs(t, st2, got) != "5,6,7,8" || sub.Reset != nil {
		t.Fatalf("after restart: %v, reset %+v", got, sub.Reset)
	}
	ids, err := s2.Publish(context.Background(), msgs("a"))
	if err != nil || seqs(t, st2, ids) != "9" {
		t.Fatalf("numbering after restart: %v %v", ids, err)
	}
}

// TestAWipedStoreIsANewEpoch: a store created anew (a data dir lost or
// wiped) numbers from 1 again. A client holding an ID of the old store gets
// a reset and the new store's every event, rather than waiting for the new
// numbering to pass its ID and missing what came before.
func TestAWipedStoreIsANewEpoch(t *testing.T) {
	dir := t.TempDir()
	s, st := MustOpen(t, dir, 100)
	var held []string
	for range 5 {
		ids, err := s.Publish(context.Background(), msgs("a"))
		if err != nil {
			t.Fatal(err)
		}
		held = ids
	}
	s.Close()
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}

	s2, st2 := MustOpen(t, dir, 100)
	defer s2.Close()
	if st2.Epoch() == st.Epoch() {
		t.Fatalf("a new store kept the epoch %q", st.Epoch())
	}
	if _, err := s2.Publish(context.Background(), msgs("a", "a")); err != nil {
		t.Fatal(err)
	}
	sub, _ := st2.Subscribe(held[0], nil) // the client had read up to 5 of the old store
	defer sub.Close()
	if sub.Reset == nil || sub.Reset.Reason != sse.ResetUnknown {
		t.Fatalf("resume from %s of the old store: reset %+v, want %q", held[0], sub.Reset, sse.ResetUnknown)
	}
	if got := readAll(t, sub, 2); seqs(t, st2, got) != "1,2" {
		t.Fatalf("got %v, want the new store's 1,2", got)
	}
}

// TestReadyReportsALostConsumer deletes the JetStream stream under a
// running store (an operator's mistake): the connection stays up, but the
// consumer that feeds the ring is lost and cannot be re-created. Ready must
// say so once StallGrace has passed, and once the stream is created again,
// that the instance needs a restart to serve it.
func TestReadyReportsALostConsumer(t *testing.T) {
	st := sse.NewStream("temperature", sse.StreamOptions{Retention: 100, FedByLog: true})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := Open(ctx, st, Options{DataDir: t.TempDir(), StallGrace: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Ready(); err != nil {
		t.Fatalf("Ready before: %v", err)
	}
	info, err := s.js.Stream(ctx, s.o.StreamName)
	if err != nil {
		t.Fatal(err)
	}
	cfg := info.CachedInfo().Config
	if err := s.js.DeleteStream(ctx, s.o.StreamName); err != nil {
		t.Fatal(err)
	}
	waitReady(t, s, func(err error) bool { return errors.Is(err, ErrNotFollowing) })
	if !s.nc.IsConnected() {
		t.Fatal("the connection dropped too: the test shows nothing about the consumer")
	}

	// Created anew, the stream numbers from 1 under another epoch: this
	// instance cannot serve it without a restart, and says so.
	if _, err := s.js.CreateStream(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	waitReady(t, s, func(err error) bool { return errors.Is(err, ErrStreamReplaced) })
}

// waitReady polls s.Ready until check holds for its answer, for 20 s at most
// (the consumer is found lost by missed heartbeats, and each attempt to
// re-create it takes up to 1 s).
func waitReady(t *testing.T, s *Store, check func(error) bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		err := s.Ready()
		if check(err) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("Ready still answers %v after 20 s", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
