package sse

import (
	"fmt"
	"sync"
	"testing"
	"time"
)

// A follower of one key is woken by its key's events only, and reads them
// without the stream's other events in between.
func TestFollowerIsWokenByItsKeyOnly(t *testing.T) {
	s := NewStream("t", StreamOptions{Epoch: "e"})
	a, _ := s.SubscribeWith(SubscribeOptions{Keys: []string{"a"}})
	defer a.Close()
	all, _ := s.Subscribe("", nil)
	defer all.Close()
	publishKeys(t, s, "b", "c", "b")
	select {
	case <-a.Wake():
		t.Fatal("a follower of a was woken by events of b and c")
	default:
	}
	if a.Pending() {
		t.Fatal("a follower of a has events pending after events of b and c")
	}
	select {
	case <-all.Wake():
	default:
		t.Fatal("a subscriber of every key was not woken")
	}
	publishKeys(t, s, "a")
	select {
	case <-a.Wake():
	default:
		t.Fatal("a follower of a was not woken by an event of a")
	}
	if got := drain(t, a); !equal(got, []string{"e-4"}) {
		t.Fatalf("follower of a read %v, want [e-4]", got)
	}
}

// A subscription to several keys gets their events merged in the stream's
// order, live and on resume, however the keys interleave and however many
// events a key has (its log grows past its first slots).
func TestKeyedReadsMergeInStreamOrder(t *testing.T) {
	s := NewStream("t", StreamOptions{Epoch: "e", Retention: 1000})
	sub, _ := s.SubscribeWith(SubscribeOptions{Keys: []string{"a", "c"}})
	defer sub.Close()
	var keys []string
	for i := range 300 {
		keys = append(keys, []string{"a", "b", "c", "a", "d"}[i%5])
	}
	ids := publishKeys(t, s, keys...)
	var want []string
	for i, k := range keys {
		if k == "a" || k == "c" {
			want = append(want, ids[i])
		}
	}
	if got := drain(t, sub); !equal(got, want) {
		t.Fatalf("live: got %d events %v…, want %d", len(got), got[:min(len(got), 5)], len(want))
	}
	// Resume after the 100th event: the followed keys' events after it.
	res, _ := s.SubscribeWith(SubscribeOptions{LastEventID: ids[99], Keys: []string{"c", "a"}})
	defer res.Close()
	var after []string
	for i, k := range keys[100:] {
		if k == "a" || k == "c" {
			after = append(after, ids[100+i])
		}
	}
	if got := drain(t, res); !equal(got, after) || res.Backlog != len(after) || res.Reset != nil {
		t.Fatalf("resume: got %d events, backlog %d, reset %+v; want %d", len(got), res.Backlog, res.Reset, len(after))
	}
}

// Retention is per key: a follower of a quiet key keeps its events however
// busy the other keys are; one that fell behind its own key's retention is
// evicted as slow (its client resumes with a reset), never handed a gap.
func TestKeyedRetentionIsPerKey(t *testing.T) {
	s := NewStream("t", StreamOptions{Epoch: "e", Retention: 8})
	quiet, _ := s.SubscribeWith(SubscribeOptions{Keys: []string{"a"}})
	defer quiet.Close()
	publishKeys(t, s, "a", "a")
	for range 100 {
		publishKeys(t, s, "b")
	}
	if got := drain(t, quiet); !equal(got, []string{"e-1", "e-2"}) {
		t.Fatalf("follower of a read %v, want [e-1 e-2] after 100 events of b", got)
	}
	// Resuming a from before 100 events of b: nothing of a was lost.
	res, _ := s.SubscribeWith(SubscribeOptions{LastEventID: "e-1", Keys: []string{"a"}})
	defer res.Close()
	if got := drain(t, res); res.Reset != nil || !equal(got, []string{"e-2"}) {
		t.Fatalf("resume of a from e-1: %v, reset %+v; want [e-2], no reset", got, res.Reset)
	}
	// A follower of b that read nothing of its last 100 is past b's 8.
	behind, _ := s.SubscribeWith(SubscribeOptions{LastEventID: "e-2", Keys: []string{"b"}})
	defer behind.Close()
	if behind.Reset == nil || behind.Reset.Reason != ResetExpired || behind.Reset.OldestID != "e-95" {
		t.Fatalf("resume of b from e-2: reset %+v, want expired from e-95", behind.Reset)
	}
	slow, _ := s.SubscribeWith(SubscribeOptions{LastEventID: "e-94", Keys: []string{"b"}})
	defer slow.Close()
	publishKeys(t, s, "b") // e-95 leaves b's log before slow read it
	if _, err := slow.Next(nil, 100); err != ErrSlow {
		t.Fatalf("Next = %v, want ErrSlow for a follower whose events left its key's log", err)
	}
	// Unfiltered: b's oldest are gone, so a reset; the replay is what the
	// ring spans (two keys' retention, 16 events): b's 8 newest. a's
	// events, older than that span, are still a's followers' to replay.
	all, _ := s.Subscribe("e-1", nil)
	defer all.Close()
	if all.Reset == nil || all.Reset.Reason != ResetExpired || all.Reset.OldestID != "e-96" {
		t.Fatalf("unfiltered resume from e-1: reset %+v, want expired (b lost events) from e-96", all.Reset)
	}
	if got := drain(t, all); len(got) != 8 || got[0] != "e-96" || got[7] != "e-103" {
		t.Fatalf("unfiltered replay after the reset = %v, want b's 8 newest", got)
	}
	earliest, _ := s.SubscribeWith(SubscribeOptions{LastEventID: Earliest, Keys: []string{"a"}})
	defer earliest.Close()
	if got := drain(t, earliest); !equal(got, []string{"e-1", "e-2"}) {
		t.Fatalf("earliest of a = %v, want [e-1 e-2]", got)
	}
}

// The case of the issue: 20 sensors at 10 readings a second, a follower of
// one of them resuming from its reading of 30 s ago, with the default
// retention, gets every reading of its sensor since, once, and no reset.
func TestResumePerSensorUnderManySensors(t *testing.T) {
	s := NewStream("t", StreamOptions{Epoch: "e"}) // DefaultRetention: 3,600 per sensor
	sensors := make([]string, 20)
	for i := range sensors {
		sensors[i] = fmt.Sprintf("sim-%d", i+1)
	}
	var ids []string
	for range 30 * 10 { // 30 s at 10/s of each sensor: 6,000 events, past 3,600 in all
		ids = append(ids, publishKeys(t, s, sensors...)...)
	}
	from := ids[0] // sim-1's reading of 30 s ago
	sub, _ := s.SubscribeWith(SubscribeOptions{LastEventID: from, Keys: []string{"sim-1"}})
	defer sub.Close()
	var want []string
	for i := 20; i < len(ids); i += 20 {
		want = append(want, ids[i])
	}
	if got := drain(t, sub); sub.Reset != nil || !equal(got, want) {
		t.Fatalf("resume of sim-1 from 30 s ago: %d events, reset %+v; want %d, no reset", len(got), sub.Reset, len(want))
	}
}

// A key that only a follower named (no event yet) is forgotten when its last
// follower leaves, so clients cannot fill the stream with keys; it does not
// count against MaxKeys meanwhile.
func TestFollowedKeyWithoutEventsIsForgotten(t *testing.T) {
	s := NewStream("t", StreamOptions{Epoch: "e", MaxKeys: 1})
	sub, _ := s.SubscribeWith(SubscribeOptions{Keys: []string{"ghost"}})
	publishKeys(t, s, "real")
	sub.Close()
	s.pubMu.Lock()
	_, ghost := s.keys["ghost"]
	n := len(s.keys)
	s.pubMu.Unlock()
	if ghost || n != 1 {
		t.Fatalf("keys after the follower left: %d, ghost kept %v", n, ghost)
	}
}

// Followers of a key resuming while a publisher interleaves many keys see
// exactly their key's events after the resume point: no gap, no duplicate,
// in order, where replay meets live.
func TestKeyedSeamUnderConcurrentPublishing(t *testing.T) {
	const total, nkeys = 20000, 10
	s := NewStream("t", StreamOptions{Epoch: "e", Retention: 4 * total, QueueLimit: 2 * total})
	key := func(seq uint64) string { return fmt.Sprintf("k%d", seq%nkeys) }
	publish := func(from, to uint64) {
		for seq := from; seq <= to; seq++ {
			if _, err := s.PublishBatch([]Message{{Type: "t", Key: key(seq)}}); err != nil {
				t.Error(err)
				return
			}
		}
	}
	publish(1, 20)
	var wg sync.WaitGroup
	wg.Go(func() { publish(21, total) })
	errs := make(chan error, 64)
	for k := range 40 {
		wg.Go(func() {
			follows := []string{key(uint64(k)), key(uint64(k + 3))}
			from := s.head.Load() - uint64(k%7)
			sub, err := s.SubscribeWith(SubscribeOptions{LastEventID: FormatID("e", from), Keys: follows})
			if err != nil {
				errs <- err
				return
			}
			defer sub.Close()
			follower := fmt.Sprintf("follower of %v", follows)
			followed := func(seq uint64) bool { return key(seq) == follows[0] || key(seq) == follows[1] }
			if err := readSeam(t, sub, follower, from, total, followed, 20*time.Second); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// A resume point ahead of a log-fed stream is awaited under a filter too:
// the followed key's events up to it are not delivered again.
func TestKeyedFollowerAwaitsAResumePointAhead(t *testing.T) {
	s := NewStream("t", StreamOptions{Epoch: "e", FedByLog: true})
	_, _ = s.Append(1, Message{Type: "t", Key: "a"}, false)
	sub, _ := s.SubscribeWith(SubscribeOptions{LastEventID: "e-3", Keys: []string{"a"}})
	defer sub.Close()
	for seq := uint64(2); seq <= 5; seq++ {
		_, _ = s.Append(seq, Message{Type: "t", Key: "a"}, false)
	}
	if got := drain(t, sub); sub.Reset != nil || !equal(got, []string{"e-4", "e-5"}) {
		t.Fatalf("got %v, reset %+v; want [e-4 e-5]", got, sub.Reset)
	}
}

// The queue limit counts a follower's own unread events: events of other
// keys never make it slow, its own do once a write of its is blocked.
func TestKeyedQueueLimitCountsTheFollowersEvents(t *testing.T) {
	s := NewStream("t", StreamOptions{Epoch: "e", Retention: 100, QueueLimit: 4})
	sub, _ := s.SubscribeWith(SubscribeOptions{Keys: []string{"a"}})
	defer sub.Close()
	sub.reportWrites()
	sub.setBlocked(true)
	for range 10 {
		publishKeys(t, s, "b", "b", "b")
	}
	if err := sub.Err(); err != nil {
		t.Fatalf("evicted by 30 events of another key: %v", err)
	}
	publishKeys(t, s, "a", "a", "a", "a")
	if err := sub.Err(); err != nil {
		t.Fatalf("evicted at the limit, before passing it: %v", err)
	}
	publishKeys(t, s, "a")
	if err := sub.Err(); err != ErrSlow {
		t.Fatalf("Err = %v with a write blocked and 5 events of its key unread, want ErrSlow", err)
	}
}
