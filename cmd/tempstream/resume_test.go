package main

import (
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/tempstream/tempstream/pkg/sse"
	"github.com/tempstream/tempstream/pkg/sse/ssetest"
)

// reference opens a stream that stays connected for the whole test and
// returns its collector, after its first event.
func reference(t *testing.T, ts *testServer) *ssetest.Recorder {
	t.Helper()
	ref := ts.openStream(t, "/events").Record(t)
	ref.Wait(t, 5*time.Second, "reference's first event", func(evs []sse.Received) bool { return len(evs) > 0 })
	return ref
}

// readResumed reads a resumed stream after the resume point `after` until it
// has passed seq `until`, and checks it against the reference: consecutive
// from after+1 (no gap, no duplicate at the seam), the same events.
func readResumed(t *testing.T, who string, c *ssetest.Stream, ref *ssetest.Recorder, after, until uint64) []sse.Received {
	t.Helper()
	var got []sse.Received
	for {
		ev := c.MustNext(t, 5*time.Second)
		got = append(got, ev)
		checkConsecutive(t, who, got, after+1)
		if seqOf(t, ev.LastEventID) >= until {
			break
		}
	}
	refEvs := waitSeq(t, ref, 5*time.Second, until)
	checkConsecutive(t, "reference", refEvs, seqOf(t, refEvs[0].LastEventID))
	checkSameAsRef(t, who, got, refEvs)
	return got
}

// TestResumeLastEventIDHeader: a client that left resumes with
// Last-Event-ID and gets exactly what a client that stayed saw after that
// ID, then the live events.
func TestResumeLastEventIDHeader(t *testing.T) {
	t.Parallel()
	ts := startServer(t, "--interval", "20ms", "--retention", "100000")
	ref := reference(t, ts)

	b := ts.openStream(t, "/events")
	for range 3 {
		b.MustNext(t, 5*time.Second)
	}
	last := b.LastEventID()
	b.Close()
	lastSeq := seqOf(t, last)

	// The reference sees at least 5 events the leaver misses.
	evs := waitSeq(t, ref, 5*time.Second, lastSeq+5)
	headNow := seqOf(t, evs[len(evs)-1].LastEventID)

	b2 := ts.openStream(t, "/events", "Last-Event-ID: "+last)
	got := readResumed(t, "resumed", b2, ref, lastSeq, headNow+5)
	t.Logf("resumed after %s: %d events, %d of them missed while away", last, len(got), headNow-lastSeq)
	ts.logs.Wait(t, 5*time.Second, "stream opened with the resume point", func(l logLine) bool {
		return l.Str("msg") == "stream opened" && l.Str("resume") == last && l.Str("remote") == b2.Local()
	})
}

// TestResumeLastEventIDQuery: a first connection resumes with
// ?lastEventId= (EventSource cannot set headers), the same way.
func TestResumeLastEventIDQuery(t *testing.T) {
	t.Parallel()
	ts := startServer(t, "--interval", "20ms", "--retention", "100000")
	ref := reference(t, ts)
	evs, _, _ := ref.Snapshot()
	evs = waitSeq(t, ref, 5*time.Second, seqOf(t, evs[0].LastEventID)+8)
	from := evs[2].LastEventID // at least 6 events behind the newest
	fromSeq := seqOf(t, from)
	headNow := seqOf(t, evs[len(evs)-1].LastEventID)

	for _, param := range []string{"lastEventId", "lastEventID", "last_event_id"} {
		c := ts.openStream(t, "/events?"+param+"="+url.QueryEscape(from))
		readResumed(t, param, c, ref, fromSeq, headNow+3)
		c.Close()
	}
	// The header wins over the query parameter.
	c := ts.openStream(t, "/events?lastEventId="+url.QueryEscape(evs[0].LastEventID), "Last-Event-ID: "+from)
	readResumed(t, "header and query", c, ref, fromSeq, headNow+3)
}

// TestResetUnknown: a resume point the server cannot place gets 200, a
// reset event, every retained event and then the live ones.
func TestResetUnknown(t *testing.T) {
	t.Parallel()
	huge := strings.Repeat("a", 100<<10)
	cases := []struct {
		name       string
		target     string
		header     string
		wantLastID string // in the reset event
	}{
		{"garbage", "/events", "garbage", "garbage"},
		{"other epoch", "/events", "abc-5", "abc-5"},
		{"not yet published", "/events", "", ""}, // filled in below
		{"huge header", "/events", huge, huge[:128]},
		{"control bytes in query", "/events?lastEventId=%00%0d%0aevent:%20x%0a%0adata:%20y", "", "\x00\r\nevent: x\n\ndata: y"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ts := startServer(t, "--interval", "20ms")
			ref := reference(t, ts)
			evs := waitSeq(t, ref, 5*time.Second, 3)
			header, wantLastID := tc.header, tc.wantLastID
			if tc.name == "not yet published" {
				header = fmt.Sprintf("%s-%d", epochOf(t, evs[0].LastEventID), 1_000_000)
				wantLastID = header
			}
			var headers []string
			if header != "" {
				headers = append(headers, "Last-Event-ID: "+header)
			}
			c := ts.openStream(t, tc.target, headers...)
			checkReset(t, c, "unknown", wantLastID)
			// Then every retained event (all of them: the ring is far from
			// full), from the first, then live ones.
			probe := ts.openStream(t, "/events")
			head := seqOf(t, probe.MustNext(t, 5*time.Second).LastEventID) // >= the head when c subscribed
			probe.Close()
			readResumed(t, "after reset", c, ref, 0, head+3)
			if got := ts.metric(t, "tempstream_sse_resets_total", `reason="unknown"`); got != 1 {
				t.Errorf("tempstream_sse_resets_total{reason=unknown} = %v, want 1", got)
			}
		})
	}
}

// checkReset reads the first event of c and checks it is a reset with reason
// and lastEventId.
func checkReset(t *testing.T, c *ssetest.Stream, reason, lastEventID string) resetData {
	t.Helper()
	ev := c.MustNext(t, 5*time.Second)
	if ev.Type != "reset" {
		t.Fatalf("first event %s %q, want a reset", ev.Type, ev.Data)
	}
	if strings.ContainsAny(string(ev.Data), "\x00\r\n") {
		t.Fatalf("reset data %q is not one line of escaped JSON", ev.Data)
	}
	var rs resetData
	decodeStrict(t, ev.Data, &rs)
	if rs.Reason != reason {
		t.Errorf("reset reason %q, want %q", rs.Reason, reason)
	}
	if rs.LastEventID != lastEventID {
		t.Errorf("reset lastEventId %q, want %q", truncate(rs.LastEventID, 200), truncate(lastEventID, 200))
	}
	return rs
}

// TestResetExpired: a resume point older than the ring gets a reset
// ("expired") and exactly the retained events, then live ones.
func TestResetExpired(t *testing.T) {
	t.Parallel()
	// The queue limit is half the retention, 2 events: a slower interval
	// keeps the reference from being evicted by a scheduling hiccup.
	ts := startServer(t, "--interval", "100ms", "--retention", "5")
	ref := reference(t, ts)
	evs := waitSeq(t, ref, 5*time.Second, 11)
	from := epochOf(t, evs[0].LastEventID) + "-1"

	c := ts.openStream(t, "/events", "Last-Event-ID: "+from)
	rs := checkReset(t, c, "expired", from)
	oldest := seqOf(t, rs.OldestID)
	if oldest <= 2 {
		t.Fatalf("oldestId %s: the ring of 5 cannot still hold the events after %s", rs.OldestID, from)
	}
	got := readResumed(t, "after reset", c, ref, oldest-1, oldest+4+5)
	// Exactly the 5 retained events were replayed, ending at the newest.
	if n := ts.metric(t, "tempstream_sse_events_replayed_total", `stream="temperature"`); n != 5 {
		t.Errorf("events replayed = %v, want 5 (the retention)", n)
	}
	if got[0].LastEventID != rs.OldestID {
		t.Errorf("first event after the reset %s, reset said oldest %s", got[0].LastEventID, rs.OldestID)
	}
	if n := ts.metric(t, "tempstream_sse_resets_total", `reason="expired"`); n != 1 {
		t.Errorf("tempstream_sse_resets_total{reason=expired} = %v, want 1", n)
	}
}

// TestResumeSeam: while events are published every millisecond, 20 clients
// join one after another with a Last-Event-ID from a reference client's
// stream, at or just behind its newest event: each sees exactly the
// reference's next events, no gap or duplicate where replay meets live.
func TestResumeSeam(t *testing.T) {
	t.Parallel()
	ts := startServer(t, "--interval", "1ms", "--retention", "100000")
	ref := reference(t, ts)
	evs, _, _ := ref.Snapshot()
	firstSeq := seqOf(t, evs[0].LastEventID)

	for i := range 20 {
		// A different moment each time: after 1 to 7 more events.
		evs, _, _ = ref.Snapshot()
		target := seqOf(t, evs[len(evs)-1].LastEventID) + uint64(i%7) + 1
		evs = waitSeq(t, ref, 5*time.Second, target)
		lag := i % 4 // resume from the newest event the reference saw, or up to 3 before it
		if lag >= len(evs) {
			lag = len(evs) - 1
		}
		from := evs[len(evs)-1-lag].LastEventID
		fromSeq := seqOf(t, from)
		c := ts.openStream(t, "/events", "Last-Event-ID: "+from)
		got := readResumed(t, fmt.Sprintf("client %d (from %s)", i, from), c, ref, fromSeq, fromSeq+50)
		if len(got) < 50 {
			t.Fatalf("client %d: %d events", i, len(got))
		}
		c.Close()
	}
	evs, _, err := ref.Snapshot()
	if err != nil {
		t.Fatalf("reference stream ended: %v", err)
	}
	checkConsecutive(t, "reference", evs, firstSeq)
	t.Logf("reference saw %d consecutive events", len(evs))
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}
