package main

import (
	"errors"
	"io"
	"testing"
	"time"

	"github.com/tempstream/tempstream/internal/testharness"
	"github.com/tempstream/tempstream/pkg/sse/ssetest"
)

// TestSlowClientDropped: a client that stops reading is disconnected by the
// server, while a client that reads keeps getting every event on time; the
// dropped client then catches up from the ring with Last-Event-ID.
func TestSlowClientDropped(t *testing.T) {
	t.Parallel()
	ts := startServer(t, "--interval", "1ms", "--sndbuf", "16384", "--write-timeout", "2s", "--retention", "100000")

	normal := reference(t, ts)
	start := time.Now()

	// The stalled client: a small receive buffer, a request, then no reads.
	stalled := ssetest.Send(t, ts.url+"/events", ssetest.Options{RecvBuffer: 4096, Timeout: 5 * time.Second})
	closed := ts.logs.WaitClosed(t, 15*time.Second, stalled.Local())
	dropped := time.Since(start)
	reason := closed.Str("reason")
	if reason != "too slow" && reason != "write timeout" {
		t.Fatalf("stalled client's stream closed with reason %q, want too slow or write timeout", reason)
	}
	t.Logf("stalled client dropped after %v: %s (%v events written)", dropped, reason, closed["events"])
	// Publish counts an eviction right after it, perhaps after that log line.
	testharness.WaitFor(t, 5*time.Second, "tempstream_sse_slow_subscribers_dropped_total >= 1", func() bool {
		return ts.metric(t, "tempstream_sse_slow_subscribers_dropped_total") >= 1
	})

	// Meanwhile, and for 100 events more, the reading client missed nothing
	// and never waited long.
	evs, _, _ := normal.Snapshot()
	evs = waitSeq(t, normal, 5*time.Second, seqOf(t, evs[len(evs)-1].LastEventID)+100)
	checkConsecutive(t, "reading client", evs, seqOf(t, evs[0].LastEventID))
	_, at, _ := normal.Snapshot()
	var worst time.Duration
	for i := 1; i < len(at); i++ {
		worst = max(worst, at[i].Sub(at[i-1]))
	}
	t.Logf("reading client: %d consecutive events, longest wait between two %v", len(evs), worst)
	if worst > 500*time.Millisecond {
		t.Errorf("reading client waited %v between two events while the other one stalled", worst)
	}

	// What the stalled client has (its socket buffers) ends where the server
	// cut it off; it resumes from the last whole event it got.
	sc := checkStream(t, stalled.Stream(t))
	got, err := sc.Rest(5 * time.Second)
	if ssetest.IsTimeout(err) {
		t.Fatalf("stalled client's stream was not closed: %v", err)
	}
	if !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Logf("stalled client's stream ended with %v", err)
	}
	if len(got) > 0 {
		checkConsecutive(t, "stalled client's buffered events", got, seqOf(t, got[0].LastEventID))
	}
	from := sc.LastEventID()
	if from == "" { // nothing whole arrived: resume from an early event
		from = evs[0].LastEventID
	}
	t.Logf("stalled client had %d whole events; resuming after %s", len(got), from)
	fromSeq := seqOf(t, from)
	latest, _, _ := normal.Snapshot()
	c := ts.openStream(t, "/events", "Last-Event-ID: "+from)
	caught := readResumed(t, "resumed stalled client", c, normal, fromSeq, seqOf(t, latest[len(latest)-1].LastEventID)+20)
	t.Logf("resumed stalled client caught up with %d events", len(caught))
}
