package sse

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// MustPublish publishes n events of type "t" with data "<k>" and returns their IDs.
func MustPublish(tb testing.TB, s *Stream, n int) []string {
	tb.Helper()
	ids := make([]string, n)
	for i := range ids {
		id, err := s.Publish("t", []byte(strconv.Itoa(i)))
		if err != nil {
			tb.Fatal(err)
		}
		ids[i] = id
	}
	return ids
}

// frameIDs parses the ID line of each frame.
func frameIDs(tb testing.TB, frames [][]byte) []string {
	tb.Helper()
	ids := make([]string, len(frames))
	for i, f := range frames {
		line, _, _ := strings.Cut(string(f), "\n")
		id, ok := strings.CutPrefix(line, "id: ")
		if !ok {
			tb.Fatalf("frame %q has no id line first", f)
		}
		ids[i] = id
	}
	return ids
}

// drain reads every pending frame of sub.
func drain(tb testing.TB, sub *Subscription) []string {
	tb.Helper()
	frames, err := sub.Next(nil, 1<<20)
	if err != nil {
		tb.Fatal(err)
	}
	return frameIDs(tb, frames)
}

// lastID returns the ID of s's newest event, or "" before the first.
func lastID(s *Stream) string {
	s.pubMu.Lock()
	defer s.pubMu.Unlock()
	if h := s.head.Load(); h > 0 {
		return FormatID(s.epoch, h)
	}
	return ""
}

func equal(a, b []string) bool { return strings.Join(a, ",") == strings.Join(b, ",") }

func TestIDsCarryTheEpoch(t *testing.T) {
	s := NewStream("t", StreamOptions{Epoch: "ep"})
	ids := MustPublish(t, s, 3)
	if !equal(ids, []string{"ep-1", "ep-2", "ep-3"}) {
		t.Fatalf("ids = %v", ids)
	}
	if lastID(s) != "ep-3" {
		t.Fatalf("LastID = %q", lastID(s))
	}
	for _, bad := range []string{"ep-", "ep-x", "ep-+1", "other-1", "1", "ep-0", "ep-99999999999999999999999"} {
		if _, ok := ParseID("ep", bad); ok {
			t.Errorf("ParseID accepted %q", bad)
		}
	}
	if seq, ok := ParseID("ep", "ep-42"); !ok || seq != 42 {
		t.Fatalf("ParseID(ep-42) = %d, %v", seq, ok)
	}
	if a, b := NewEpoch(time.Unix(1, 0)), NewEpoch(time.Unix(2, 0)); a == b {
		t.Fatalf("epochs of different start times are equal: %q", a)
	}
}

func TestSubscribeWithoutResumeStartsAtNewest(t *testing.T) {
	s := NewStream("t", StreamOptions{Epoch: "e"})
	MustPublish(t, s, 5)
	sub, err := s.Subscribe("", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	if got := drain(t, sub); !equal(got, []string{"e-5"}) {
		t.Fatalf("first delivery = %v, want only the newest event", got)
	}
	MustPublish(t, s, 2)
	if got := drain(t, sub); !equal(got, []string{"e-6", "e-7"}) {
		t.Fatalf("live = %v", got)
	}
	if sub.Reset != nil || sub.Backlog != 0 {
		t.Fatalf("reset %+v backlog %d", sub.Reset, sub.Backlog)
	}
}

func TestSubscribeBeforeAnyEvent(t *testing.T) {
	s := NewStream("t", StreamOptions{Epoch: "e"})
	sub, _ := s.Subscribe("", nil)
	defer sub.Close()
	if got := drain(t, sub); len(got) != 0 {
		t.Fatalf("got %v from an empty stream", got)
	}
	MustPublish(t, s, 1)
	select {
	case <-sub.Wake():
	default:
		t.Fatal("publish did not wake the subscriber")
	}
	if got := drain(t, sub); !equal(got, []string{"e-1"}) {
		t.Fatalf("got %v", got)
	}
}

func TestResumeReplaysExactlyTheMissedEvents(t *testing.T) {
	s := NewStream("t", StreamOptions{Epoch: "e", Retention: 10})
	MustPublish(t, s, 8)
	sub, _ := s.Subscribe("e-5", nil)
	defer sub.Close()
	if got := drain(t, sub); !equal(got, []string{"e-6", "e-7", "e-8"}) {
		t.Fatalf("replay = %v", got)
	}
	if sub.Reset != nil || sub.Backlog != 3 {
		t.Fatalf("reset %+v backlog %d", sub.Reset, sub.Backlog)
	}
	// Up to date: nothing to replay, nothing reset.
	sub2, _ := s.Subscribe("e-8", nil)
	defer sub2.Close()
	if got := drain(t, sub2); len(got) != 0 || sub2.Reset != nil {
		t.Fatalf("up-to-date resume got %v, reset %+v", got, sub2.Reset)
	}
}

func TestResumeThatCannotBeHonouredResets(t *testing.T) {
	s := NewStream("t", StreamOptions{Epoch: "e", Retention: 4})
	MustPublish(t, s, 10) // retained: e-7 … e-10
	for _, tc := range []struct {
		resume string
		reason ResetReason
	}{
		{"e-2", ResetExpired},
		{"garbage", ResetUnknown},
		{"old-9", ResetUnknown},
		{"e-11", ResetUnknown}, // not yet published
		{"e-0", ResetUnknown},
	} {
		sub, _ := s.Subscribe(tc.resume, nil)
		got := drain(t, sub)
		sub.Close()
		if sub.Reset == nil || sub.Reset.Reason != tc.reason || sub.Reset.LastEventID != tc.resume || sub.Reset.OldestID != "e-7" {
			t.Errorf("%s: reset = %+v, want reason %s", tc.resume, sub.Reset, tc.reason)
		}
		if !equal(got, []string{"e-7", "e-8", "e-9", "e-10"}) {
			t.Errorf("%s: replay = %v, want every retained event", tc.resume, got)
		}
	}
	// The event just before the oldest retained: nothing was missed.
	sub, _ := s.Subscribe("e-6", nil)
	defer sub.Close()
	if got := drain(t, sub); sub.Reset != nil || !equal(got, []string{"e-7", "e-8", "e-9", "e-10"}) {
		t.Fatalf("resume at the edge: %v, reset %+v", got, sub.Reset)
	}
}

// Retention counts events per key, and memory stays bounded: after 1,000
// events of each of three keys, the stream retains 16 of each (the newest),
// and holds no more than the ring (which spans every key's retention).
func TestRetentionIsBounded(t *testing.T) {
	s := NewStream("t", StreamOptions{Epoch: "e", Retention: 16})
	for range 1000 {
		publishKeys(t, s, "a", "b", "c")
	}
	items, _ := s.Since(Earliest, nil, 1<<20)
	if len(items) != 48 || items[0].ID != "e-2953" || items[47].ID != "e-3000" {
		t.Fatalf("retained %d events (%s…), want the newest 16 of each key: 48 from e-2953", len(items), items[0].ID)
	}
	for _, k := range []string{"a", "b", "c"} {
		if items, _ := s.Since(Earliest, []string{k}, 1<<20); len(items) != 16 {
			t.Fatalf("key %s retains %d events, want 16", k, len(items))
		}
		if n := s.keys[k].events.live; n != 16 {
			t.Fatalf("key %s's log holds %d events, want 16", k, n)
		}
	}
	if n := s.ring.size(); n != 64 {
		t.Fatalf("ring of %d slots, want 64: three keys' 16, rounded up to a power of two", n)
	}
}

// readSeam reads sub, which resumed after event from, until it has read
// every event up to last that it follows (follows(seq), or every one when
// follows is nil), and says how it went wrong: an event out of turn, a
// subscription error, or no event within wait. The reader of the seam tests.
func readSeam(tb testing.TB, sub *Subscription, who string, from, last uint64, follows func(seq uint64) bool, wait time.Duration) error {
	want := from + 1
	skip := func() {
		for want <= last && follows != nil && !follows(want) {
			want++
		}
	}
	skip()
	deadline := time.After(wait)
	for want <= last {
		frames, err := sub.Next(nil, 64)
		if err != nil {
			return err
		}
		for _, id := range frameIDs(tb, frames) {
			if id != FormatID("e", want) {
				return fmt.Errorf("%s from %d: got %s, want e-%d", who, from, id, want)
			}
			want++
			skip()
		}
		if len(frames) == 0 {
			select {
			case <-sub.Wake():
			case <-deadline:
				return fmt.Errorf("%s from %d stuck at %d", who, from, want)
			}
		}
	}
	return nil
}

// TestSeamUnderConcurrentPublishing subscribes with resume points while a
// publisher runs flat out: every subscriber must see the exact sequence after
// its resume point, with no gap and no duplicate where replay meets live.
func TestSeamUnderConcurrentPublishing(t *testing.T) {
	const total = 20000
	s := NewStream("t", StreamOptions{Epoch: "e", Retention: 4 * total, QueueLimit: 2 * total})
	MustPublish(t, s, 10)
	var wg sync.WaitGroup
	wg.Go(func() { MustPublish(t, s, total-10) })
	errs := make(chan error, 64)
	for k := range 50 {
		wg.Go(func() {
			// Resume from a recent published event, as a reconnecting
			// client does, while the publisher is running.
			h := s.head.Load()
			from := h - min(h-1, uint64(k%5))
			sub, err := s.Subscribe(FormatID("e", from), nil)
			if err != nil {
				errs <- err
				return
			}
			defer sub.Close()
			if sub.Reset != nil {
				errs <- fmt.Errorf("resume from %d reset: %+v", from, sub.Reset)
				return
			}
			if err := readSeam(t, sub, "subscriber", from, total, nil, 10*time.Second); err != nil {
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

func TestSlowSubscriberIsEvictedWithoutBlockingPublish(t *testing.T) {
	s := NewStream("t", StreamOptions{Epoch: "e", Retention: 100, QueueLimit: 10})
	MustPublish(t, s, 50) // backlog before subscribing does not count
	evicted := make(chan struct{})
	slow, _ := s.Subscribe("e-1", func() { close(evicted) })
	defer slow.Close()
	fast, _ := s.Subscribe("", nil)
	defer fast.Close()
	drain(t, fast)
	for i := range 11 {
		MustPublish(t, s, 1)
		if got := drain(t, fast); len(got) != 1 {
			t.Fatalf("fast subscriber got %v after publish %d", got, i)
		}
		if i < 10 && slow.Err() != nil {
			t.Fatalf("slow subscriber evicted after only %d live events", i+1)
		}
	}
	select {
	case <-evicted:
	default:
		t.Fatal("onEvict not called")
	}
	if !errors.Is(slow.Err(), ErrSlow) {
		t.Fatalf("Err = %v, want ErrSlow", slow.Err())
	}
	if _, err := slow.Next(nil, 10); !errors.Is(err, ErrSlow) {
		t.Fatalf("Next after eviction: %v", err)
	}
	if n := s.subscribers(); n != 1 {
		t.Fatalf("subscribers = %d, want 1", n)
	}
}

func TestQueueLimitIsBelowRetention(t *testing.T) {
	s := NewStream("t", StreamOptions{Retention: 10, QueueLimit: 1000})
	if s.queueLimit != 5 {
		t.Fatalf("queue limit = %d, want half the retention", s.queueLimit)
	}
}

func TestCloseEndsSubscriptions(t *testing.T) {
	s := NewStream("t", StreamOptions{})
	sub, _ := s.Subscribe("", nil)
	s.Close()
	select {
	case <-sub.Done():
	default:
		t.Fatal("Done not closed")
	}
	if !errors.Is(sub.Err(), ErrClosed) {
		t.Fatalf("Err = %v", sub.Err())
	}
	if _, err := s.Publish("t", nil); !errors.Is(err, ErrClosed) {
		t.Fatalf("Publish after Close: %v", err)
	}
	if _, err := s.Subscribe("", nil); !errors.Is(err, ErrClosed) {
		t.Fatalf("Subscribe after Close: %v", err)
	}
	sub.Close()
	s.Close() // idempotent
}

func TestPublishRefusesBreakingType(t *testing.T) {
	s := NewStream("t", StreamOptions{})
	if _, err := s.Publish("a\nb", []byte("x")); !errors.Is(err, ErrInvalidType) {
		t.Fatalf("err = %v", err)
	}
	if lastID(s) != "" {
		t.Fatal("a refused event took an ID")
	}
}

func TestPublishCopiesData(t *testing.T) {
	s := NewStream("t", StreamOptions{Epoch: "e"})
	data := []byte("abc")
	_, _ = s.Publish("t", data)
	copy(data, "xyz")
	sub, _ := s.Subscribe("", nil)
	defer sub.Close()
	frames, _ := sub.Next(nil, 1)
	if !strings.Contains(string(frames[0]), "data: abc\n") {
		t.Fatalf("frame %q changed with the caller's slice", frames[0])
	}
}

func TestSubscribeEarliestGetsTheWholeHistory(t *testing.T) {
	s := NewStream("t", StreamOptions{Epoch: "e", Retention: 3})
	MustPublish(t, s, 5)
	sub, _ := s.Subscribe(Earliest, nil)
	defer sub.Close()
	if got := drain(t, sub); !equal(got, []string{"e-3", "e-4", "e-5"}) || sub.Reset != nil || sub.Backlog != 3 {
		t.Fatalf("earliest: %v, reset %+v, backlog %d", got, sub.Reset, sub.Backlog)
	}
	empty := NewStream("t", StreamOptions{Epoch: "e"})
	sub2, _ := empty.Subscribe(Earliest, nil)
	defer sub2.Close()
	if got := drain(t, sub2); len(got) != 0 || sub2.Reset != nil {
		t.Fatalf("earliest on an empty stream: %v, %+v", got, sub2.Reset)
	}
}

func TestCloseStillDeliversWhatWasPublished(t *testing.T) {
	s := NewStream("t", StreamOptions{Epoch: "e"})
	sub, _ := s.Subscribe("", nil)
	defer sub.Close()
	MustPublish(t, s, 2)
	s.Close()
	if got := drain(t, sub); !equal(got, []string{"e-1", "e-2"}) {
		t.Fatalf("after Close got %v, want the events published before it", got)
	}
	if sub.Pending() {
		t.Fatal("pending after draining")
	}
}

// TestQueueLimitEvictsOnlyABlockedWriter: for a subscription whose writer
// reports its writes (the Handler's do), a backlog past the queue limit
// built while no write of its is blocked is the server's to catch up (its
// writer was not scheduled, or a burst came from the log), and evicts
// nobody; once a write blocks on the client, the limit applies.
func TestQueueLimitEvictsOnlyABlockedWriter(t *testing.T) {
	s := NewStream("t", StreamOptions{Epoch: "e", Retention: 100, QueueLimit: 4})
	sub, _ := s.Subscribe("", nil)
	defer sub.Close()
	sub.reportWrites()
	MustPublish(t, s, 20)
	if err := sub.Err(); err != nil {
		t.Fatalf("evicted with no write blocked: %v", err)
	}
	sub.setBlocked(true)
	MustPublish(t, s, 1)
	if err := sub.Err(); err != ErrSlow {
		t.Fatalf("Err = %v with a write blocked and 20 events unread, want ErrSlow", err)
	}
}
