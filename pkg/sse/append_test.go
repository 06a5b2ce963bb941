package sse

import (
	"errors"
	"testing"
)

func TestAppendUsesTheLogsSequence(t *testing.T) {
	s := NewStream("t", StreamOptions{Retention: 8}) // no epoch: IDs are the log's numbers
	sub, _ := s.Subscribe("", nil)
	defer sub.Close()
	for _, seq := range []uint64{100, 101, 103} { // 102 skipped by the log
		if ok, err := s.Append(seq, Message{Type: "t", Key: "k", Data: []byte("x")}, false); !ok || err != nil {
			t.Fatalf("Append(%d) = %v, %v", seq, ok, err)
		}
	}
	if ok, _ := s.Append(101, Message{Type: "t"}, false); ok {
		t.Fatal("a redelivered sequence number was stored again")
	}
	if got := drain(t, sub); !equal(got, []string{"100", "101", "103"}) {
		t.Fatalf("got %v", got)
	}
	// The ring starts at the first appended number: resuming before it is
	// expired, resuming at it is exact, the hole is passed over.
	old, _ := s.Subscribe("50", nil)
	defer old.Close()
	if old.Reset == nil || old.Reset.Reason != ResetExpired || old.Reset.OldestID != "100" {
		t.Fatalf("resume before the ring: %+v", old.Reset)
	}
	res, _ := s.Subscribe("100", nil)
	defer res.Close()
	if got := drain(t, res); res.Reset != nil || !equal(got, []string{"101", "103"}) || res.Backlog != 2 {
		t.Fatalf("resume at 100: %v, %+v, backlog %d", got, res.Reset, res.Backlog)
	}
	items, _ := s.Since("", nil, 10)
	if len(items) != 3 {
		t.Fatalf("Since skipped no hole: %+v", items)
	}
}

func TestAppendJumpLongerThanTheRingStartsAfresh(t *testing.T) {
	s := NewStream("t", StreamOptions{Retention: 4})
	_, _ = s.Append(1, Message{Type: "t"}, false)
	_, _ = s.Append(2, Message{Type: "t"}, false)
	sub, _ := s.Subscribe("1", nil) // will want 2, then 3…
	defer sub.Close()
	_, _ = s.Append(50, Message{Type: "t"}, false)
	// Its next event is gone (the fresh run reuses the slots): ErrSlow, so
	// it resumes, and gets a reset.
	if _, err := sub.Next(nil, 10); !errors.Is(err, ErrSlow) {
		t.Fatalf("across the jump: %v, want ErrSlow", err)
	}
	again, _ := s.Subscribe("1", nil)
	defer again.Close()
	if again.Reset == nil || again.Reset.Reason != ResetExpired {
		t.Fatalf("resume from before the jump: %+v, want expired", again.Reset)
	}
	items, _ := s.Since("", nil, 10)
	if len(items) != 1 || items[0].ID != "50" {
		t.Fatalf("after the jump the ring holds %+v", items)
	}
}

func TestCheckBatch(t *testing.T) {
	s := NewStream("t", StreamOptions{Retention: 4, MaxKeys: 1})
	if err := s.CheckBatch(make([]Message, 3)); !errors.Is(err, ErrBatchTooLarge) {
		t.Fatalf("long batch: %v", err)
	}
	if err := s.CheckBatch([]Message{{Key: "a"}, {Key: "b"}}); !errors.Is(err, ErrTooManyKeys) {
		t.Fatalf("two keys: %v", err)
	}
	if err := s.CheckBatch([]Message{{Key: "a"}}); err != nil {
		t.Fatalf("one key: %v", err)
	}
}

// A stream fed by a log that another instance is ahead of: a resume point
// above the newest event is awaited, not reset.
func TestFedByLogAwaitsAResumePointAhead(t *testing.T) {
	s := NewStream("t", StreamOptions{Retention: 100, FedByLog: true})
	_, _ = s.Append(1, Message{Type: "t"}, false)
	sub, _ := s.Subscribe("3", nil)
	defer sub.Close()
	if sub.Reset != nil {
		t.Fatalf("reset %+v for an ID the log has not delivered here yet", sub.Reset)
	}
	for seq := uint64(2); seq <= 5; seq++ {
		_, _ = s.Append(seq, Message{Type: "t"}, false)
	}
	if got := drain(t, sub); !equal(got, []string{"4", "5"}) {
		t.Fatalf("got %v, want what follows 3", got)
	}
	plain := NewStream("t", StreamOptions{Retention: 100})
	_, _ = plain.Append(1, Message{Type: "t"}, false)
	if sub, _ := plain.Subscribe("3", nil); sub.Reset == nil || sub.Reset.Reason != ResetUnknown {
		t.Fatalf("a stream not fed by a log: reset %+v, want unknown", sub.Reset)
	}
}

// A burst the stream catches up with evicts nobody; once caught up, the
// queue limit applies again to what comes after.
func TestCatchUpEvictsNobody(t *testing.T) {
	s := NewStream("t", StreamOptions{Retention: 1000, QueueLimit: 10})
	_, _ = s.Append(1, Message{Type: "t"}, false)
	sub, _ := s.Subscribe("", nil)
	defer sub.Close()
	for seq := uint64(2); seq <= 300; seq++ {
		_, _ = s.Append(seq, Message{Type: "t"}, seq < 300)
	}
	if sub.Err() != nil {
		t.Fatalf("evicted by a catch-up: %v", sub.Err())
	}
	for seq := uint64(301); seq <= 312; seq++ {
		_, _ = s.Append(seq, Message{Type: "t"}, false)
	}
	if sub.Err() == nil {
		t.Fatal("a subscriber that read nothing since the catch-up was not evicted")
	}
}
