package main

import (
	"bufio"
	"net"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/tempstream/tempstream/pkg/reading"
	"github.com/tempstream/tempstream/pkg/sse"
)

func testRunner(t *testing.T, url string, parser string) *runner {
	t.Helper()
	cfg, err := parseFlags([]string{"-url", url, "-parser", parser, "-sources", "3"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	tg, spread, err := parseTarget(cfg.URL, false)
	if err != nil {
		t.Fatal(err)
	}
	return &runner{cfg: cfg, target: tg, spread: spread, stop: make(chan struct{}), errSamples: map[string]int{}}
}

// One subscriber against the real engine (pkg/sse.Handler over HTTP/1.1,
// chunked): the newest event on connect counts as taken before the
// connection, live ones are measured, closing the connection ends the session.
func TestSessionAgainstEngine(t *testing.T) {
	for _, parser := range []string{"fast", "spec"} {
		t.Run(parser, func(t *testing.T) {
			b := sse.NewBroker(sse.StreamOptions{Epoch: "ep"}, "temperature")
			defer b.Close()
			st, _ := b.Stream("temperature")
			pub := func(at time.Time) {
				data, _ := reading.New("sim-1", 21.5, at).MarshalData()
				if _, err := st.Publish(reading.EventType, data); err != nil {
					t.Error(err)
				}
			}
			pub(time.Now().Add(-time.Hour))
			srv := httptest.NewServer(&sse.Handler{Broker: b})
			defer srv.Close()
			r := testRunner(t, srv.URL+"/events", parser)
			c := &client{r: r, idx: 1}
			got := make(chan struct{}, 16)
			seen := 0
			r.onEvent = func(event) {
				if seen++; seen == 6 { // the client leaves after six events
					r.stopping.Store(true)
					c.conn.Load().Close()
				}
				got <- struct{}{}
			}
			done := make(chan error, 1)
			go func() { done <- c.session(nil) }()
			<-got // the newest event: subscribed
			for range 5 {
				pub(time.Now().Add(time.Hour)) // "live", and latency 0 whatever the scheduling
			}
			if err := <-done; err != nil {
				t.Fatalf("session ended with %v, want nil (closed by the client)", err)
			}
			c.flush()
			if r.events.Load() != 5 || r.backlog.Load() != 1 || c.ids.Lost != 0 || c.ids.Dup != 0 || string(c.ids.LastRaw) != "ep-6" {
				t.Fatalf("events %d backlog %d lost %d dup %d last %q", r.events.Load(), r.backlog.Load(), c.ids.Lost, c.ids.Dup, c.ids.LastRaw)
			}
			if n := r.latency.Snapshot(false).N; n != 5 {
				t.Fatalf("%d latency samples", n)
			}
			if r.connected.Load() != 0 || r.connectTime.Snapshot(false).N != 1 || r.firstEvent.Snapshot(false).N != 1 {
				t.Fatal("connection counters")
			}
		})
	}
}

// A canned chunked response (real bytes from pkg/sse's encoder, chunk
// boundaries inside lines) with a gap, a repeat, a reset and a comment;
// the request carries Last-Event-ID and comes from a 127.0.0.x address.
func TestSessionCountsGapsResetsAndResumes(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var body []byte
	body = sse.AppendRetry(body, 1500*time.Millisecond)
	body, _ = sse.AppendEvent(body, sse.Event{Type: "reset", Data: []byte(`{"reason":"expired"}`)})
	for _, seq := range []uint64{4, 5, 7, 7, 8} {
		data, _ := reading.New("s", 20, time.Now().Add(time.Hour)).MarshalData()
		body, _ = sse.AppendEvent(body, sse.Event{ID: sse.FormatID("x", seq), Type: "temperature", Data: data})
	}
	body = sse.AppendComment(body, "heartbeat")
	served := make(chan string, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		br := bufio.NewReader(c)
		var req strings.Builder
		for {
			line, err := br.ReadString('\n')
			req.WriteString(line)
			if err != nil || line == "\r\n" {
				break
			}
		}
		served <- req.String() + "from " + c.RemoteAddr().String()
		w := bufio.NewWriter(c)
		w.WriteString("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n")
		for len(body) > 0 {
			n := min(len(body), 37)
			w.WriteString(strings.ToLower(strings.TrimLeft(strings.ToUpper(hex(n)), "0")) + "\r\n")
			w.Write(body[:n])
			w.WriteString("\r\n")
			body = body[n:]
		}
		w.WriteString("0\r\n\r\n")
		w.Flush()
	}()
	r := testRunner(t, "http://"+ln.Addr().String()+"/events?stream=temperature", "fast")
	c := &client{r: r, idx: 2}
	c.ids.LastRaw = []byte("x-3")
	err = c.session(nil)
	req := <-served
	if !strings.Contains(req, "GET /events?stream=temperature HTTP/1.1\r\n") || !strings.Contains(req, "Last-Event-ID: x-3\r\n") || !strings.Contains(req, "from 127.0.0.3:") {
		t.Fatalf("request:\n%s", req)
	}
	if err == nil {
		t.Fatal("session: no error at end of stream")
	}
	c.flush()
	if r.resets.Load() != 1 || c.ids.Lost != 1 || c.ids.Dup != 1 || r.events.Load() != 5 || c.retry != 1500*time.Millisecond {
		t.Fatalf("resets %d lost %d dup %d events %d retry %v", r.resets.Load(), c.ids.Lost, c.ids.Dup, r.events.Load(), c.retry)
	}
}

func hex(n int) string {
	const digits = "0123456789abcdef"
	s := ""
	for ; n > 0; n /= 16 {
		s = string(digits[n%16]) + s
	}
	return s
}

// A response that is not an event stream is counted and ends the session.
func TestSessionRefusesNonSSE(t *testing.T) {
	b := sse.NewBroker(sse.StreamOptions{}, "a", "b")
	defer b.Close()
	srv := httptest.NewServer(&sse.Handler{Broker: b}) // two streams, none named: 404
	defer srv.Close()
	r := testRunner(t, srv.URL+"/events?stream=nope", "fast")
	c := &client{r: r}
	if err := c.session(nil); err == nil || !strings.Contains(err.Error(), "404") || r.httpErrors.Load() != 1 {
		t.Fatalf("err %v, http errors %d", err, r.httpErrors.Load())
	}
}
