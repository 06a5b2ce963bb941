package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tempstream/tempstream/pkg/reading"
	"github.com/tempstream/tempstream/pkg/sse"
)

// ingestServer is the real engine (pkg/sse) behind /events, with
// ?sensor= filters unless leak, and an ingest like tempstream's behind
// /api/v1/readings that publishes each reading under its sensor's key.
func ingestServer(t *testing.T, leak bool) *httptest.Server {
	t.Helper()
	b := sse.NewBroker(sse.StreamOptions{Epoch: "ep"}, reading.EventType)
	t.Cleanup(b.Close)
	st, _ := b.Stream(reading.EventType)
	h := &sse.Handler{Broker: b}
	if !leak {
		h.Keys = func(r *http.Request) ([]string, error) {
			if s := r.URL.Query().Get("sensor"); s != "" {
				return []string{s}, nil
			}
			return nil, nil
		}
	}
	mux := http.NewServeMux()
	mux.Handle("/events", h)
	mux.HandleFunc("POST /api/v1/readings", func(w http.ResponseWriter, r *http.Request) {
		var rd struct {
			Sensor  string    `json:"sensor"`
			Celsius float64   `json:"celsius"`
			At      time.Time `json:"at"`
		}
		if err := json.NewDecoder(r.Body).Decode(&rd); err != nil || r.Header.Get("Authorization") != "Bearer tok" {
			http.Error(w, "bad", http.StatusBadRequest)
			return
		}
		data, _ := reading.New(rd.Sensor, rd.Celsius, rd.At).MarshalData()
		ids, err := st.PublishBatch([]sse.Message{{Type: reading.EventType, Key: rd.Sensor, Data: data}})
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusAccepted)
		fmt.Fprintf(w, `{"accepted":1,"ids":[%q]}`, ids[0])
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

// A whole run with a poster: a hold with nobody connected, then filtered
// subscribers; every reading of its sensor reaches each subscriber, and
// the CPU per delivered event is worked out.
func TestRunWithPoster(t *testing.T) {
	for _, tc := range []struct {
		name    string
		leak    bool
		sensors string
	}{{"filtered", false, "4"}, {"unfiltered", false, "0"}, {"filter ignored", true, "4"}} {
		t.Run(tc.name, func(t *testing.T) {
			srv := ingestServer(t, tc.leak)
			out := filepath.Join(t.TempDir(), "r.json")
			var stdout strings.Builder
			err := run(t.Context(), []string{"-url", srv.URL + "/events", "-n", "12", "-ramp", "200/s", "-duration", "600ms",
				"-sensors", tc.sensors, "-post-url", srv.URL + "/api/v1/readings", "-post-token", "tok", "-post-sensors", "4", "-post-rate", "20/s",
				"-post-warmup", "100ms", "-idle-hold", "300ms", "-settle", "100ms", "-post-drain", "300ms", "-server-pid", strconv.Itoa(os.Getpid()),
				"-quiet", "-json", out}, &stdout, io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := os.ReadFile(out)
			var res Results
			if err := json.Unmarshal(b, &res); err != nil {
				t.Fatal(err)
			}
			p := res.Post
			if p == nil || p.Accepted == 0 || p.Accepted != p.Sent || p.Expected == 0 || res.IdleHoldSeconds < 0.29 || res.SettleSeconds != 0.1 || res.LossMethod != "poster's IDs" {
				t.Fatalf("post %+v idle %v method %q\n%s", p, res.IdleHoldSeconds, res.LossMethod, stdout.String())
			}
			if p.IdlePerSec < 40 || p.IdlePerSec > 120 { // 80 posts/s asked
				t.Errorf("%.0f posts/s accepted in the idle hold, want about 80", p.IdlePerSec)
			}
			if p.Lost != 0 || p.Dup != 0 || res.Lost != 0 || p.Got != p.Expected {
				t.Errorf("expected %d got %d lost %d dup %d\n%s", p.Expected, p.Got, p.Lost, p.Dup, stdout.String())
			}
			if want := tc.leak; (p.Foreign > 0) != want {
				t.Errorf("foreign %d, leak %v", p.Foreign, tc.leak)
			}
			if !strings.Contains(stdout.String(), "CPU per delivered event") || res.SteadyEvents == 0 {
				t.Errorf("summary:\n%s", stdout.String())
			}
		})
	}
}

func TestIngestFlagsAndCPUPerEvent(t *testing.T) {
	for _, args := range [][]string{
		{"-post-url", "http://10.0.0.1:5000/api/v1/readings"}, {"-post-url", "https://127.0.0.1/x"}, {"-post-url", "x"},
		{"-post-url", "http://127.0.0.1:5000/a", "-post-sensors", "0"}, {"-post-url", "http://127.0.0.1:5000/a", "-post-rate", "0/s"},
		{"-post-url", "http://127.0.0.1:5000/a", "-post-rate", "NaN"}, {"-post-url", "http://127.0.0.1:5000/a", "-sensors", "10", "-post-sensors", "5"},
		{"-post-url", "http://127.0.0.1:5000/a", "-post-sensors", "1000", "-post-rate", "1000/s"}, {"-idle-hold", "-1s"}, {"-settle", "-1s"},
	} {
		if _, err := parseFlags(args, io.Discard); err == nil {
			t.Errorf("%v: no error", args)
		}
	}
	c, err := parseFlags([]string{"-post-url", "http://localhost:5000/api/v1/readings", "-post-sensors", "1000", "-post-rate", "0.5/s", "-sensors", "1000", "-idle-hold", "20s"}, io.Discard)
	if err != nil || c.PostRate != 0.5 || c.PostSensors != 1000 || c.IdleHold != 20*time.Second {
		t.Fatalf("%+v %v", c, err)
	}
	if p := newPoster(c.PostURL, "", c.SensorPattern, 1000, 1, 0); p.conns != 40 || p.interval != time.Millisecond {
		t.Fatalf("conns %d interval %v", p.conns, p.interval)
	}
	// 3 s of CPU in 20 s with subscribers, 1 s in 10 s without: 1 s for 100,000 events
	if got := cpuPerEventUS(3*time.Second, 20, time.Second, 10, 100000); got < 9.999 || got > 10.001 {
		t.Fatalf("cpuPerEventUS = %v, want 10", got)
	}
	if cpuPerEventUS(time.Second, 1, time.Second, 0, 10) != 0 || cpuPerEventUS(time.Second, 1, 0, 1, 0) != 0 {
		t.Fatal("no hold or no events: 0")
	}
}
