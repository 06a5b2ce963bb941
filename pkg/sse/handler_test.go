package sse_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tempstream/tempstream/pkg/sse"
	"github.com/tempstream/tempstream/pkg/sse/ssetest"
)

// open GETs url with client (ssetest.Open); the response ends when the
// test does.
func open(t testing.TB, client *http.Client, url string, o ssetest.Options) *ssetest.Stream {
	t.Helper()
	o.Client = client
	return ssetest.Open(t, url, o)
}

func TestHandlerServesHTTP2WithoutConnectionHeader(t *testing.T) {
	b := sse.NewBroker(sse.StreamOptions{Epoch: "e"}, "temperature")
	defer b.Close()
	st, _ := b.Stream("temperature")
	sse.MustPublish(t, st, 3)
	srv, client := sse.MustServe(t, &sse.Handler{Broker: b}, true)
	s := open(t, client, srv.URL, ssetest.Options{LastEventID: "e-1"})
	if s.Resp.ProtoMajor != 2 {
		t.Fatalf("proto = %s, want HTTP/2", s.Resp.Proto)
	}
	if v := s.Resp.Header.Get("Connection"); v != "" {
		t.Fatalf("Connection: %q sent over HTTP/2", v)
	}
	if ct := s.Resp.Header.Get("Content-Type"); ct != "text/event-stream; charset=utf-8" {
		t.Fatalf("Content-Type = %q", ct)
	}
	for _, want := range []string{"e-2", "e-3"} {
		if ev := s.MustNext(t, 10*time.Second); ev.LastEventID != want {
			t.Fatalf("got %+v; want %s", ev, want)
		}
	}
	if s.Retry() != sse.DefaultRetry {
		t.Fatalf("retry = %v", s.Retry())
	}
}

func TestHandlerZeroValueServesTheOnlyStream(t *testing.T) {
	b := sse.NewBroker(sse.StreamOptions{Epoch: "e"}, "only")
	defer b.Close()
	st, _ := b.Stream("only")
	sse.MustPublish(t, st, 1)
	srv, client := sse.MustServe(t, &sse.Handler{Broker: b}, false)
	s := open(t, client, srv.URL, ssetest.Options{})
	if s.Resp.StatusCode != 200 || s.Resp.Header.Get("Connection") != "keep-alive" {
		t.Fatalf("status %d, Connection %q", s.Resp.StatusCode, s.Resp.Header.Get("Connection"))
	}
	if ev := s.MustNext(t, 10*time.Second); ev.LastEventID != "e-1" {
		t.Fatalf("got %+v", ev)
	}
}

func TestHandlerResetEventIsDocumentedJSON(t *testing.T) {
	b := sse.NewBroker(sse.StreamOptions{Epoch: "e"}, "s")
	defer b.Close()
	st, _ := b.Stream("s")
	sse.MustPublish(t, st, 2)
	srv, client := sse.MustServe(t, &sse.Handler{Broker: b}, false)
	s := open(t, client, srv.URL+"?lastEventId="+"x%0Aevent:%20evil", ssetest.Options{})
	if info := s.Reset(t, 10*time.Second); info != (sse.ResetInfo{Reason: sse.ResetUnknown, LastEventID: "x\nevent: evil", OldestID: "e-1"}) {
		t.Fatalf("reset = %+v", info)
	}
	for _, want := range []string{"e-1", "e-2"} {
		if ev := s.MustNext(t, 10*time.Second); ev.LastEventID != want || ev.Type != "t" {
			t.Fatalf("got %+v; want %s", ev, want)
		}
	}
}

func TestHandlerRejectsUnknownStreamAndOverCapacity(t *testing.T) {
	b := sse.NewBroker(sse.StreamOptions{}, "a", "b")
	defer b.Close()
	h := &sse.Handler{Broker: b, MaxSubscribers: 1, Retry: 1500 * time.Millisecond}
	srv, client := sse.MustServe(t, h, false)

	r := open(t, client, srv.URL, ssetest.Options{AnyStatus: true}) // no default, two streams
	if r.Resp.StatusCode != 404 || !strings.Contains(r.Text, `"error"`) {
		t.Fatalf("no stream named: %d %s", r.Resp.StatusCode, r.Text)
	}

	first := open(t, client, srv.URL+"?stream=a", ssetest.Options{})
	if first.Resp.StatusCode != 200 {
		t.Fatalf("first: %d", first.Resp.StatusCode)
	}
	r = open(t, client, srv.URL+"?stream=b", ssetest.Options{AnyStatus: true})
	if r.Resp.StatusCode != 503 || r.Resp.Header.Get("Retry-After") != "2" || !strings.Contains(r.Text, "capacity") {
		t.Fatalf("over capacity: %d Retry-After %q %s", r.Resp.StatusCode, r.Resp.Header.Get("Retry-After"), r.Text)
	}
}
