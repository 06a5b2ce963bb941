package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

func TestReadingBody(t *testing.T) {
	at := time.Date(2026, 11, 26, 3, 51, 7, 716_900_000, time.FixedZone("x", 3600))
	if got := string(readingBody("s-17", 21.5, at)); got != `{"sensor":"s-17","celsius":21.50,"at":"2026-11-26T02:51:07.716Z"}` {
		t.Fatalf("body %s", got)
	}
}

// fakeIngest answers like tempstream's POST /api/v1/readings: 202 with the
// next ID, but 429 for every fifth request; it keeps the readings.
type fakeIngest struct {
	mu    sync.Mutex
	n     int
	bySen map[string]int
	bad   []string
}

func (f *fakeIngest) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var rd struct {
		Sensor  string  `json:"sensor"`
		Celsius float64 `json:"celsius"`
		At      string  `json:"at"`
	}
	body, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := json.Unmarshal(body, &rd); err != nil || r.Method != http.MethodPost || r.Header.Get("Authorization") != "Bearer tok" ||
		r.Header.Get("Content-Type") != "application/json" || r.URL.Path != "/api/v1/readings" {
		f.bad = append(f.bad, fmt.Sprintf("%s %s %q %v", r.Method, r.URL.Path, body, err))
	} else if at, err := time.Parse(time.RFC3339Nano, rd.At); err != nil || time.Since(at) > time.Second || time.Since(at) < -time.Millisecond {
		f.bad = append(f.bad, "at "+rd.At) // the send time, to the millisecond
	}
	f.n++
	if f.n%5 == 0 {
		w.WriteHeader(http.StatusTooManyRequests)
		return
	}
	f.bySen[rd.Sensor]++
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusAccepted)
	fmt.Fprintf(w, `{"accepted":1,"ids":["ep-%d"]}`, f.n)
}

// The poster spreads sensors × rate posts over each second, every sensor
// in turn, keeps each accepted ID, and stops at its count.
func TestPosterPostsOnScheduleAndKeepsIDs(t *testing.T) {
	f := &fakeIngest{bySen: map[string]int{}}
	srv := httptest.NewServer(f)
	defer srv.Close()
	p := newPoster(srv.URL+"/api/v1/readings", "tok", "s-%d", 10, 20, 3) // 200 posts/s: one every 5 ms
	if p.interval != 5*time.Millisecond || p.conns != 3 {
		t.Fatalf("interval %v conns %d", p.interval, p.conns)
	}
	start := time.Now()
	p.start(40, time.Now().Add(time.Minute))
	p.wg.Wait()
	if took := time.Since(start); took < 190*time.Millisecond { // post 39 is due at 195 ms
		t.Fatalf("40 posts in %v: not spread", took)
	}
	p.halt()
	if len(f.bad) > 0 {
		t.Fatalf("bad requests: %v", f.bad)
	}
	if p.sent.Load() != 40 || p.accepted.Load() != 32 || p.statuses[202] != 32 || p.statuses[429] != 8 || p.prefix != "ep-" || len(p.posts) != 40 {
		t.Fatalf("sent %d accepted %d statuses %v prefix %q posts %d", p.sent.Load(), p.accepted.Load(), p.statuses, p.prefix, len(p.posts))
	}
	perSensor := map[int32]int{}
	for _, r := range p.posts {
		perSensor[r.sensor]++
		if r.status == 202 && (r.seq == 0 || r.acked < r.sent) {
			t.Fatalf("record %+v", r)
		}
	}
	for s := range int32(10) {
		if perSensor[s] != 4 {
			t.Fatalf("posts per sensor %v", perSensor)
		}
	}
	if p.acceptedBetween(start, time.Now()) != 32 {
		t.Fatal("acceptedBetween")
	}
}

// halt stops a poster long before its count or deadline.
func TestPosterHalts(t *testing.T) {
	f := &fakeIngest{bySen: map[string]int{}}
	srv := httptest.NewServer(f)
	defer srv.Close()
	p := newPoster(srv.URL+"/api/v1/readings", "tok", "s-%d", 1, 1, 0)
	if p.conns != 1 || p.interval != time.Second {
		t.Fatalf("conns %d interval %v", p.conns, p.interval)
	}
	p.start(1000, time.Now().Add(time.Hour))
	time.Sleep(50 * time.Millisecond)
	start := time.Now()
	p.halt()
	if time.Since(start) > time.Second || p.sent.Load() != 1 {
		t.Fatalf("halt took %v, sent %d", time.Since(start), p.sent.Load())
	}
	// the deadline also stops it
	q := newPoster(srv.URL+"/api/v1/readings", "tok", "s-%d", 100, 1, 1)
	q.start(1000, time.Now().Add(30*time.Millisecond))
	q.wg.Wait()
	if n := q.sent.Load(); n < 2 || n > 5 {
		t.Fatalf("deadline: sent %d, want about 3", n)
	}
}
