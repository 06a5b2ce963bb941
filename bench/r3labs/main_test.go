package main

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	r3sse "github.com/r3labs/sse/v2"

	"github.com/tempstream/tempstream/pkg/reading"
	"github.com/tempstream/tempstream/pkg/sse"
)

// The baseline serves tempstream's event type and JSON on r3labs' defaults:
// a new client gets the whole log (AutoReplay), IDs rewritten to 0, 1, …
func TestBaselineServesReadings(t *testing.T) {
	srv, r3 := newServer()
	defer r3.Close()
	ts := httptest.NewServer(srv.Handler)
	defer ts.Close()
	for range 2 {
		data, _ := reading.New("sim-1", 21.5, time.Now()).MarshalData()
		r3.Publish("temperature", &r3sse.Event{Event: []byte(reading.EventType), Data: data})
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, ts.URL+"/events?stream=temperature", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	r := sse.NewReader(resp.Body, 0)
	for i, want := range []string{"0", "1"} {
		ev, err := r.Next()
		if err != nil {
			t.Fatal(err)
		}
		var rd reading.Reading
		if ev.Type != reading.EventType || ev.LastEventID != want || json.Unmarshal(ev.Data, &rd) != nil || rd.At == "" {
			t.Fatalf("event %d: %q %q %s", i, ev.LastEventID, ev.Type, ev.Data)
		}
	}
}
