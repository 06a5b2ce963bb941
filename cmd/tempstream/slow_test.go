package main

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"syscall"
	"testing"
	"time"

	"github.com/tempstream/tempstream/pkg/sse"
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
	d := net.Dialer{Timeout: 5 * time.Second, Control: func(network, address string, rc syscall.RawConn) error {
		var serr error
		err := rc.Control(func(fd uintptr) {
			serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096)
		})
		if err != nil {
			return err
		}
		return serr
	}}
	stalled, err := d.Dial("tcp", ts.addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = stalled.Close() })
	writeGet(t, stalled, ts.addr, "/events")

	closed := ts.logs.WaitClosed(t, 15*time.Second, stalled.LocalAddr().String())
	dropped := time.Since(start)
	reason := closed.Str("reason")
	if reason != "too slow" && reason != "write timeout" {
		t.Fatalf("stalled client's stream closed with reason %q, want too slow or write timeout", reason)
	}
	t.Logf("stalled client dropped after %v: %s (%v events written)", dropped, reason, closed["events"])
	// Publish counts an eviction right after it, perhaps after that log line.
	waitFor(t, 5*time.Second, "tempstream_sse_slow_subscribers_dropped_total >= 1", func() bool {
		return ts.metric(t, "tempstream_sse_slow_subscribers_dropped_total") >= 1
	})

	// Meanwhile, and for 100 events more, the reading client missed nothing
	// and never waited long.
	evs, _, _ := normal.snapshot()
	evs = normal.waitSeq(t, 5*time.Second, seqOf(t, evs[len(evs)-1].LastEventID)+100)
	checkConsecutive(t, "reading client", evs, seqOf(t, evs[0].LastEventID))
	_, at, _ := normal.snapshot()
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
	_ = stalled.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(stalled), &http.Request{Method: http.MethodGet})
	if err != nil {
		t.Fatalf("stalled client's response: %v", err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("stalled client's response: %s", resp.Status)
	}
	rd := sse.NewReader(resp.Body, 0)
	var got []sse.Received
	for {
		ev, err := rd.Next()
		if err != nil {
			if isTimeout(err) {
				t.Fatalf("stalled client's stream was not closed: %v", err)
			}
			if !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Logf("stalled client's stream ended with %v", err)
			}
			break
		}
		got = append(got, ev)
	}
	if len(got) > 0 {
		checkConsecutive(t, "stalled client's buffered events", got, seqOf(t, got[0].LastEventID))
	}
	from := rd.LastEventID()
	if from == "" { // nothing whole arrived: resume from an early event
		from = evs[0].LastEventID
	}
	t.Logf("stalled client had %d whole events; resuming after %s", len(got), from)
	fromSeq := seqOf(t, from)
	latest, _, _ := normal.snapshot()
	c := ts.openStream(t, "/events", "Last-Event-ID: "+from)
	caught := readResumed(t, "resumed stalled client", c, normal, fromSeq, seqOf(t, latest[len(latest)-1].LastEventID)+20)
	t.Logf("resumed stalled client caught up with %d events", len(caught))
}
