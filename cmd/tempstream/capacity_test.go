package main

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tempstream/tempstream/internal/testharness"
)

// TestCapacity: past --max-subscribers a stream request gets 503 with
// Retry-After and a JSON error; once a stream closes, a new one is admitted.
func TestCapacity(t *testing.T) {
	t.Parallel()
	ts := startServer(t, "--interval", "50ms", "--max-subscribers", "2")
	a := ts.openStream(t, "/events")
	a.MustNext(t, 5*time.Second)
	b := ts.openStream(t, "/events")
	b.MustNext(t, 5*time.Second)

	resp, err := ts.client.Get(ts.url + "/events")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("third stream: %s, want 503", resp.Status)
	}
	if ra := resp.Header.Get("Retry-After"); ra != "2" {
		t.Errorf("Retry-After = %q, want 2 (the retry of 2s)", ra)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Content-Type %q, want JSON", ct)
	}
	var m map[string]any
	decodeJSON(t, body, &m)
	if msg, _ := m["error"].(string); msg == "" {
		t.Errorf("503 body %s has no \"error\"", body)
	}
	if n := ts.metric(t, "tempstream_sse_rejected_connections_total", `reason="capacity"`); n != 1 {
		t.Errorf("rejected for capacity = %v, want 1", n)
	}
	// The two admitted streams are unharmed.
	a.MustNext(t, 5*time.Second)
	b.MustNext(t, 5*time.Second)

	a.Close()
	ts.logs.WaitClosed(t, 5*time.Second, a.Local())
	// The subscriber gauge is released right after that log line.
	testharness.WaitFor(t, 5*time.Second, "subscribers gauge back to 1", func() bool {
		return ts.metric(t, "tempstream_sse_subscribers", `stream="temperature"`) == 1
	})
	c := ts.openStream(t, "/events") // fails the test unless 200
	c.MustNext(t, 5*time.Second)
	b.MustNext(t, 5*time.Second)
}
