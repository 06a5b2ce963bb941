package sse

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// MustServe starts h on a real loopback server (HTTP/2 over TLS when tls is
// true) and closes it when the test ends.
func MustServe(tb testing.TB, h http.Handler, useTLS bool) (*httptest.Server, *http.Client) {
	tb.Helper()
	srv := httptest.NewUnstartedServer(h)
	if useTLS {
		srv.EnableHTTP2 = true
		srv.StartTLS()
	} else {
		srv.Start()
	}
	client := srv.Client()
	tb.Cleanup(func() {
		client.CloseIdleConnections()
		srv.Close()
	})
	return srv, client
}

// open GETs url and returns the response and a reader of its events; the
// response ends when the test does.
func open(tb testing.TB, client *http.Client, url string, hdr http.Header) (*http.Response, *Reader) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	tb.Cleanup(cancel)
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	for k, v := range hdr {
		req.Header[k] = v
	}
	resp, err := client.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { resp.Body.Close() })
	return resp, NewReader(resp.Body, 0)
}

func TestHandlerServesHTTP2WithoutConnectionHeader(t *testing.T) {
	b := NewBroker(StreamOptions{Epoch: "e"}, "temperature")
	defer b.Close()
	st, _ := b.Stream("temperature")
	MustPublish(t, st, 3)
	srv, client := MustServe(t, &Handler{Broker: b}, true)
	resp, r := open(t, client, srv.URL, http.Header{"Last-Event-Id": {"e-1"}})
	if resp.ProtoMajor != 2 {
		t.Fatalf("proto = %s, want HTTP/2", resp.Proto)
	}
	if v := resp.Header.Get("Connection"); v != "" {
		t.Fatalf("Connection: %q sent over HTTP/2", v)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream; charset=utf-8" {
		t.Fatalf("Content-Type = %q", ct)
	}
	for _, want := range []string{"e-2", "e-3"} {
		ev, err := r.Next()
		if err != nil || ev.LastEventID != want {
			t.Fatalf("got %+v, %v; want %s", ev, err, want)
		}
	}
	if r.Retry() != DefaultRetry {
		t.Fatalf("retry = %v", r.Retry())
	}
}

func TestHandlerZeroValueServesTheOnlyStream(t *testing.T) {
	b := NewBroker(StreamOptions{Epoch: "e"}, "only")
	defer b.Close()
	st, _ := b.Stream("only")
	MustPublish(t, st, 1)
	srv, client := MustServe(t, &Handler{Broker: b}, false)
	resp, r := open(t, client, srv.URL, nil)
	if resp.StatusCode != 200 || resp.Header.Get("Connection") != "keep-alive" {
		t.Fatalf("status %d, Connection %q", resp.StatusCode, resp.Header.Get("Connection"))
	}
	if ev, err := r.Next(); err != nil || ev.LastEventID != "e-1" {
		t.Fatalf("got %+v, %v", ev, err)
	}
}

func TestHandlerResetEventIsDocumentedJSON(t *testing.T) {
	b := NewBroker(StreamOptions{Epoch: "e"}, "s")
	defer b.Close()
	st, _ := b.Stream("s")
	MustPublish(t, st, 2)
	srv, client := MustServe(t, &Handler{Broker: b}, false)
	_, r := open(t, client, srv.URL+"?lastEventId="+"x%0Aevent:%20evil", nil)
	ev, err := r.Next()
	if err != nil || ev.Type != "reset" {
		t.Fatalf("first event %+v, %v; want reset", ev, err)
	}
	var info ResetInfo
	if err := json.Unmarshal(ev.Data, &info); err != nil {
		t.Fatal(err)
	}
	if info != (ResetInfo{Reason: ResetUnknown, LastEventID: "x\nevent: evil", OldestID: "e-1"}) {
		t.Fatalf("reset = %+v", info)
	}
	for _, want := range []string{"e-1", "e-2"} {
		if ev, err := r.Next(); err != nil || ev.LastEventID != want || ev.Type != "t" {
			t.Fatalf("got %+v, %v; want %s", ev, err, want)
		}
	}
}

func TestHandlerRejectsUnknownStreamAndOverCapacity(t *testing.T) {
	b := NewBroker(StreamOptions{}, "a", "b")
	defer b.Close()
	h := &Handler{Broker: b, MaxSubscribers: 1, Retry: 1500 * time.Millisecond}
	srv, client := MustServe(t, h, false)

	resp, err := client.Get(srv.URL) // no default, two streams
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 404 || !strings.Contains(string(body), `"error"`) {
		t.Fatalf("no stream named: %d %s", resp.StatusCode, body)
	}

	first, _ := open(t, client, srv.URL+"?stream=a", nil)
	if first.StatusCode != 200 {
		t.Fatalf("first: %d", first.StatusCode)
	}
	resp, err = client.Get(srv.URL + "?stream=b")
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 503 || resp.Header.Get("Retry-After") != "2" || !strings.Contains(string(body), "capacity") {
		t.Fatalf("over capacity: %d Retry-After %q %s", resp.StatusCode, resp.Header.Get("Retry-After"), body)
	}
}

var _ http.Handler = (*Handler)(nil)

func TestTruncateKeepsUTF8Whole(t *testing.T) {
	s := strings.Repeat("€", 50) // 3 bytes each
	got := truncate(s, 128)
	if len(got) != 126 || !utf8.ValidString(got) {
		t.Fatalf("truncate gave %d bytes, valid %v", len(got), utf8.ValidString(got))
	}
	if truncate("abc", 128) != "abc" {
		t.Fatal("short string changed")
	}
}
