package sse

import (
	"errors"
	"testing"
)

// publishKeys publishes one event per key, in batches as long as the
// stream takes.
func publishKeys(t *testing.T, s *Stream, keys ...string) []string {
	t.Helper()
	var ids []string
	for len(keys) > 0 {
		n := min(len(keys), s.MaxBatch())
		msgs := make([]Message, n)
		for i, k := range keys[:n] {
			msgs[i] = Message{Type: "temperature", Key: k, Data: []byte(k)}
		}
		got, err := s.PublishBatch(msgs)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, got...)
		keys = keys[n:]
	}
	return ids
}

func TestFilteredSubscriptionGetsOnlyItsKeys(t *testing.T) {
	s := NewStream("t", StreamOptions{Epoch: "e"})
	publishKeys(t, s, "a", "b", "c", "a", "b") // e-1 … e-5
	sub, _ := s.SubscribeWith(SubscribeOptions{Keys: []string{"a", "c"}})
	defer sub.Close()
	// Latest on connect: the newest event of each followed key, oldest first.
	if got := drain(t, sub); !equal(got, []string{"e-3", "e-4"}) {
		t.Fatalf("latest per key = %v, want [e-3 e-4]", got)
	}
	publishKeys(t, s, "b", "c", "a")
	if got := drain(t, sub); !equal(got, []string{"e-7", "e-8"}) {
		t.Fatalf("live = %v", got)
	}
	// Resume under a filter: exactly the followed keys' events after the ID.
	res, _ := s.SubscribeWith(SubscribeOptions{LastEventID: "e-2", Keys: []string{"b"}})
	defer res.Close()
	if got := drain(t, res); !equal(got, []string{"e-5", "e-6"}) || res.Backlog != 2 || res.Reset != nil {
		t.Fatalf("filtered resume = %v, backlog %d, reset %+v", got, res.Backlog, res.Reset)
	}
}

func TestUnfilteredLatestOnConnectHasEveryKey(t *testing.T) {
	s := NewStream("t", StreamOptions{Epoch: "e"})
	publishKeys(t, s, "a", "b", "a")
	sub, _ := s.Subscribe("", nil)
	defer sub.Close()
	if got := drain(t, sub); !equal(got, []string{"e-2", "e-3"}) {
		t.Fatalf("got %v, want the newest of b then of a", got)
	}
}

func TestPublishBatchIsAllOrNothing(t *testing.T) {
	s := NewStream("t", StreamOptions{Epoch: "e", MaxKeys: 2})
	if ids := publishKeys(t, s, "a", "b", "a"); !equal(ids, []string{"e-1", "e-2", "e-3"}) {
		t.Fatalf("ids = %v", ids)
	}
	_, err := s.PublishBatch([]Message{{Type: "t", Key: "a"}, {Type: "t", Key: "c"}})
	if !errors.Is(err, ErrTooManyKeys) {
		t.Fatalf("third key: err = %v, want ErrTooManyKeys", err)
	}
	_, err = s.PublishBatch([]Message{{Type: "t", Key: "a"}, {Type: "bad\n", Key: "a"}})
	if !errors.Is(err, ErrInvalidType) {
		t.Fatalf("bad type: err = %v", err)
	}
	if lastID(s) != "e-3" {
		t.Fatalf("a refused batch published something: last id %s", lastID(s))
	}
	if ids, err := s.PublishBatch(nil); err != nil || len(ids) != 0 {
		t.Fatalf("empty batch: %v %v", ids, err)
	}
}

func TestBatchWakesOnceAndDeliversInOrder(t *testing.T) {
	s := NewStream("t", StreamOptions{Epoch: "e"})
	sub, _ := s.Subscribe("", nil)
	defer sub.Close()
	publishKeys(t, s, "a", "b", "c")
	<-sub.Wake()
	select {
	case <-sub.Wake():
		t.Fatal("a batch woke the subscriber twice")
	default:
	}
	if got := drain(t, sub); !equal(got, []string{"e-1", "e-2", "e-3"}) {
		t.Fatalf("got %v", got)
	}
}

func TestExpiredResumeOfAQuietKeyIsNoReset(t *testing.T) {
	s := NewStream("t", StreamOptions{Epoch: "e", Retention: 4})
	publishKeys(t, s, "rare", "busy", "busy", "busy", "busy", "busy", "busy") // rare is e-1; ring keeps e-4…e-7
	quiet, _ := s.SubscribeWith(SubscribeOptions{LastEventID: "e-1", Keys: []string{"rare"}})
	defer quiet.Close()
	if quiet.Reset != nil || len(drain(t, quiet)) != 0 {
		t.Fatalf("resume of a key with nothing new: reset %+v", quiet.Reset)
	}
	missed, _ := s.SubscribeWith(SubscribeOptions{LastEventID: "e-1", Keys: []string{"busy"}})
	defer missed.Close()
	if missed.Reset == nil || missed.Reset.Reason != ResetExpired {
		t.Fatalf("resume of a busy key past retention: reset %+v, want expired", missed.Reset)
	}
}

func TestSinceAndLatest(t *testing.T) {
	s := NewStream("t", StreamOptions{Epoch: "e", Retention: 2})
	publishKeys(t, s, "a", "b", "a", "b", "a", "b") // two of each key kept: e-3…e-6
	items, reset := s.Since("", nil, 100)
	if reset != nil || len(items) != 4 || items[0].ID != "e-3" || items[3].ID != "e-6" {
		t.Fatalf("all retained: %+v %+v", items, reset)
	}
	items, reset = s.Since("e-4", []string{"a"}, 100)
	if reset != nil || len(items) != 1 || items[0].ID != "e-5" || items[0].Key != "a" || string(items[0].Data) != "a" {
		t.Fatalf("since e-4 for a: %+v %+v", items, reset)
	}
	items, reset = s.Since("e-1", nil, 2)
	if reset == nil || reset.Reason != ResetExpired || len(items) != 2 || items[0].ID != "e-3" {
		t.Fatalf("expired: %+v %+v", items, reset)
	}
	if items, reset = s.Since("nope", nil, 10); reset == nil || reset.Reason != ResetUnknown || len(items) != 4 {
		t.Fatalf("unknown: %+v %+v", items, reset)
	}
	latest := s.Latest()
	if len(latest) != 2 || latest[0].Key != "a" || latest[0].ID != "e-5" || latest[1].Key != "b" || latest[1].ID != "e-6" {
		t.Fatalf("latest = %+v", latest)
	}
}

func TestBatchLimitKeepsUnreadEventsInTheRing(t *testing.T) {
	s := NewStream("t", StreamOptions{Epoch: "e", Retention: 10})
	if s.MaxBatch() != 5 {
		t.Fatalf("MaxBatch = %d, want half the retention", s.MaxBatch())
	}
	if _, err := s.PublishBatch(make([]Message, 6)); !errors.Is(err, ErrBatchTooLarge) {
		t.Fatalf("batch of 6: %v", err)
	}
	if lastID(s) != "" {
		t.Fatal("a refused batch published something")
	}
}

// A batch as long as the stream takes does not evict an up-to-date
// subscriber, however small its queue limit.
func TestLargeBatchEvictsNobody(t *testing.T) {
	s := NewStream("t", StreamOptions{Epoch: "e", Retention: 2000, QueueLimit: 10})
	sub, _ := s.Subscribe("", nil)
	defer sub.Close()
	publishKeys(t, s, make([]string, 1000)...)
	if sub.Err() != nil {
		t.Fatalf("evicted by one batch: %v", sub.Err())
	}
	if got := drain(t, sub); len(got) != 1000 {
		t.Fatalf("read %d of 1000", len(got))
	}
	// Now behind by a whole batch: the next publish finds it slow only if
	// it did not read, which it did.
	publishKeys(t, s, "x")
	if sub.Err() != nil {
		t.Fatalf("evicted after reading everything: %v", sub.Err())
	}
}
