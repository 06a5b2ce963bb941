package main

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/textproto"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tempstream/tempstream/internal/testharness"
	"github.com/tempstream/tempstream/pkg/sse"
	"github.com/tempstream/tempstream/pkg/sse/ssetest"
)

var (
	idPattern   = regexp.MustCompile(`^[0-9a-z]+-[1-9][0-9]*$`)
	twoDecimals = regexp.MustCompile(`^[0-9]+\.[0-9]{2}$`)
	millisUTC   = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$`)
)

// checkReading checks the data of a temperature event: one line of JSON with
// exactly data, celsius, sensor and at, consistent with each other.
func checkReading(t testing.TB, data []byte) readingData {
	t.Helper()
	if strings.ContainsAny(string(data), "\r\n") {
		t.Fatalf("data %q is not one line", data)
	}
	var r readingData
	decodeStrict(t, data, &r) // unknown fields fail
	for _, k := range []string{`"data":`, `"celsius":`, `"sensor":`, `"at":`} {
		if !strings.Contains(string(data), k) {
			t.Fatalf("data %s has no %s field", data, k)
		}
	}
	if !twoDecimals.MatchString(r.Data) {
		t.Errorf("data %q: \"data\" has not exactly two decimals", r.Data)
	}
	if want := strconv.FormatFloat(r.Celsius, 'f', 2, 64); r.Data != want {
		t.Errorf("\"data\" %q is not celsius %v with two decimals (%q)", r.Data, r.Celsius, want)
	}
	if r.Celsius < 20 || r.Celsius > 30 {
		t.Errorf("celsius %v outside [20, 30]", r.Celsius)
	}
	if r.Sensor != "sim-1" {
		t.Errorf("sensor = %q, want sim-1", r.Sensor)
	}
	if _, err := time.Parse(time.RFC3339, r.At); err != nil {
		t.Errorf("at %q: %v", r.At, err)
	}
	if !millisUTC.MatchString(r.At) {
		t.Errorf("at %q is not RFC 3339 UTC with milliseconds", r.At)
	}
	return r
}

// rawHead splits the response head of s as received into its status line
// (as sent, with its CRLF) and its header.
func rawHead(t *testing.T, s *ssetest.Stream) (status string, hdr textproto.MIMEHeader) {
	t.Helper()
	br := bufio.NewReader(strings.NewReader(s.Head()))
	status, err := br.ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	if hdr, err = textproto.NewReader(br).ReadMIMEHeader(); err != nil {
		t.Fatal(err)
	}
	return status, hdr
}

// TestRawHTTP11Stream reads /events byte by byte as an HTTP/1.1 client:
// status line, headers, chunked framing, the retry field and the exact lines
// of the first events.
func TestRawHTTP11Stream(t *testing.T) {
	t.Parallel()
	ts := startServer(t, "--interval", "20ms")
	var body bytes.Buffer // the body as received, unchunked
	s := ssetest.Dial(t, ts.url+"/events", ssetest.Options{Tap: &body})
	status, hdr := rawHead(t, s)
	if status != "HTTP/1.1 200 OK\r\n" {
		t.Fatalf("status line %q", status)
	}
	if got := hdr.Get("Content-Type"); got != "text/event-stream; charset=utf-8" {
		t.Errorf("Content-Type = %q", got)
	}
	if got := hdr.Get("Cache-Control"); !strings.Contains(got, "no-cache") {
		t.Errorf("Cache-Control = %q, want no-cache", got)
	}
	if got := hdr.Get("X-Accel-Buffering"); got != "no" {
		t.Errorf("X-Accel-Buffering = %q, want no", got)
	}
	if got := hdr.Get("Connection"); !strings.EqualFold(got, "keep-alive") {
		t.Errorf("Connection = %q, want keep-alive", got)
	}
	if got := hdr.Get("Transfer-Encoding"); got != "chunked" {
		t.Errorf("Transfer-Encoding = %q, want chunked", got)
	}
	if got, ok := hdr["Content-Length"]; ok {
		t.Errorf("Content-Length %q on a stream", got)
	}
	if got := hdr.Get("Content-Encoding"); got != "" {
		t.Errorf("Content-Encoding %q on a stream", got)
	}

	// The chunked framing was taken apart by the client (a broken chunk
	// fails the read); the events it carried are exactly these lines.
	evs := s.Take(t, 3, 5*time.Second)
	raw, ok := strings.CutPrefix(body.String(), "retry: 2000\n\n")
	if !ok {
		t.Fatalf("stream starts with %q, want the retry field", body.String())
	}
	blocks := strings.Split(raw, "\n\n")
	if len(blocks) < 4 { // three events, and what follows them
		t.Fatalf("body %q has fewer than 3 events", raw)
	}
	var prev uint64
	for i, ev := range evs {
		lines := strings.Split(blocks[i], "\n")
		if len(lines) != 3 {
			t.Fatalf("event %d has lines %q, want id, event and data", i, lines)
		}
		id, ok := strings.CutPrefix(lines[0], "id: ")
		if !ok || !idPattern.MatchString(id) {
			t.Fatalf("first line %q is not an id of the form <epoch>-<seq>", lines[0])
		}
		if lines[1] != "event: temperature" {
			t.Fatalf("second line %q, want event: temperature", lines[1])
		}
		data, ok := strings.CutPrefix(lines[2], "data: ")
		if !ok {
			t.Fatalf("third line %q is not data", lines[2])
		}
		checkReading(t, []byte(data))
		if ev.LastEventID != id || ev.Type != "temperature" || string(ev.Data) != data {
			t.Fatalf("event %d parsed as %s %s %s from lines %q", i, ev.LastEventID, ev.Type, ev.Data, lines)
		}
		seq := seqOf(t, id)
		if i > 0 && seq != prev+1 {
			t.Fatalf("event %d has seq %d after %d", i, seq, prev)
		}
		prev = seq
	}
}

// TestRawHTTP10Stream: an HTTP/1.0 client gets the stream unchunked, without
// Connection: keep-alive, and its end is the connection's close.
func TestRawHTTP10Stream(t *testing.T) {
	t.Parallel()
	ts := startServer(t, "--interval", "20ms")
	var body bytes.Buffer
	s := ssetest.Dial(t, ts.url+"/events", ssetest.Options{Proto: "HTTP/1.0", Tap: &body})
	status, hdr := rawHead(t, s)
	if !strings.HasPrefix(status, "HTTP/1.") || !strings.HasSuffix(status, " 200 OK\r\n") {
		t.Fatalf("status line %q", status)
	}
	if got := hdr.Get("Content-Type"); got != "text/event-stream; charset=utf-8" {
		t.Errorf("Content-Type = %q", got)
	}
	for _, v := range hdr.Values("Connection") {
		if strings.Contains(strings.ToLower(v), "keep-alive") {
			t.Errorf("Connection: %s sent to an HTTP/1.0 client", v)
		}
	}
	if got := hdr.Get("Transfer-Encoding"); got != "" {
		t.Errorf("Transfer-Encoding %q to an HTTP/1.0 client", got)
	}
	if got, ok := hdr["Content-Length"]; ok {
		t.Errorf("Content-Length %q on a stream", got)
	}
	var prev uint64
	for i := range 3 {
		ev, err := s.Next(5 * time.Second)
		if err != nil {
			t.Fatalf("event %d: %v", i, err)
		}
		if ev.Type != "temperature" {
			t.Fatalf("event %d type %q", i, ev.Type)
		}
		checkReading(t, ev.Data)
		seq := seqOf(t, ev.LastEventID)
		if i > 0 && seq != prev+1 {
			t.Fatalf("event %d has seq %d after %d", i, seq, prev)
		}
		prev = seq
	}
	// The body is the event stream itself, not chunked.
	if !strings.HasPrefix(body.String(), "retry: 2000\n\nid: ") {
		t.Fatalf("body starts with %q", body.String())
	}
	if s.Retry() != 2*time.Second {
		t.Errorf("retry = %v, want 2s", s.Retry())
	}
	// Shutting the server down ends the stream; without chunking the end is
	// the connection's close, which the parser sees as a clean EOF (after
	// the events written before the close).
	if err := ts.stop(5 * time.Second); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Rest(2 * time.Second); !errors.Is(err, io.EOF) {
		t.Fatalf("stream ended with %v, want EOF (the close)", err)
	}
}

// TestLatestOnConnect: with no tick due for an hour, a new client still gets
// the startup reading at once.
func TestLatestOnConnect(t *testing.T) {
	t.Parallel()
	ts := startServer(t, "--interval", "1h")
	var first sse.Received
	for i := range 2 { // every new client, not just the first
		c := ts.openStream(t, "/events")
		start := time.Now()
		ev, err := c.Next(2 * time.Second)
		if err != nil {
			t.Fatalf("client %d: no event within 2s of connecting: %v", i, err)
		}
		t.Logf("client %d: first event after %v", i, time.Since(start))
		if ev.Type != "temperature" {
			t.Fatalf("client %d: type %q", i, ev.Type)
		}
		checkReading(t, ev.Data)
		if seq := seqOf(t, ev.LastEventID); seq != 1 {
			t.Fatalf("client %d: id %s, want the startup reading (seq 1)", i, ev.LastEventID)
		}
		if i == 0 {
			first = ev
		} else if ev.LastEventID != first.LastEventID || string(ev.Data) != string(first.Data) {
			t.Fatalf("client %d got %s %s, client 0 %s %s", i, ev.LastEventID, ev.Data, first.LastEventID, first.Data)
		}
		c.Close()
	}
}

// commentTap is a tap (ssetest.Options.Tap) that keeps every byte of the
// body and, once armed (stop > 0), ends the stream with errEnough as soon
// as it has received stop comment lines in all.
type commentTap struct {
	s    *ssetest.Stream
	stop int
	seen []byte
}

var errEnough = errors.New("enough")

func (c *commentTap) Write(p []byte) (int, error) {
	c.seen = append(c.seen, p...)
	if c.stop > 0 && c.s.Comments() >= c.stop {
		return len(p), errEnough
	}
	return len(p), nil
}

// openTapped opens target as openStream does, with a commentTap.
func (ts *testServer) openTapped(t testing.TB, target string) (*ssetest.Stream, *commentTap) {
	t.Helper()
	tap := &commentTap{}
	tap.s = checkStream(t, ssetest.Dial(t, ts.url+target, ssetest.Options{Tap: tap}))
	return tap.s, tap
}

// TestHeartbeat: an idle stream carries heartbeat comments, again and again.
func TestHeartbeat(t *testing.T) {
	t.Parallel()
	ts := startServer(t, "--interval", "1h", "--heartbeat", "100ms")
	c, tap := ts.openTapped(t, "/events")
	ev, err := c.Next(2 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if ev.Type != "temperature" || seqOf(t, ev.LastEventID) != 1 {
		t.Fatalf("first event %s %s", ev.Type, ev.LastEventID)
	}
	afterEvent := len(tap.seen)
	start := time.Now()
	tap.stop = 3
	ev, err = c.Next(5 * time.Second)
	switch {
	case err == nil:
		t.Fatalf("an event (%s %s) on a stream that should be idle", ev.Type, ev.Data)
	case ssetest.IsTimeout(err):
		t.Fatalf("only %d heartbeat comments within 5s", c.Comments())
	case !errors.Is(err, errEnough):
		t.Fatal(err)
	}
	elapsed := time.Since(start)
	t.Logf("%d heartbeats in %v", c.Comments(), elapsed)
	// The bytes after the event are heartbeat comments only (a partial one may
	// be last, if the read that brought it also brought the third).
	rest := string(tap.seen[afterEvent:])
	if !strings.HasPrefix(rest, ": heartbeat\n\n") {
		t.Fatalf("after the event: %q", rest)
	}
	if left := strings.ReplaceAll(rest, ": heartbeat\n\n", ""); !strings.HasPrefix(": heartbeat\n\n", left) {
		t.Fatalf("after the event, more than heartbeats: %q", rest)
	}
	// Three heartbeats at 100ms of idleness each take ~300ms: they are spread
	// over time, not sent in a burst.
	if elapsed < 200*time.Millisecond {
		t.Fatalf("3 heartbeats within %v: not one per 100ms of idleness", elapsed)
	}
	// The counter is bumped right after the write the client already read.
	testharness.WaitFor(t, 5*time.Second, "tempstream_sse_heartbeats_total >= 3", func() bool {
		return ts.metric(t, "tempstream_sse_heartbeats_total", `stream="temperature"`) >= 3
	})
}

// TestRoutes checks every non-stream route and the stream's errors.
func TestRoutes(t *testing.T) {
	t.Parallel()
	ts := startServer(t, "--interval", "1h")

	checkJSONError := func(t *testing.T, resp *http.Response, body []byte, status int, mentions string) map[string]any {
		t.Helper()
		if resp.StatusCode != status {
			t.Fatalf("status %s, want %d; body %s", resp.Status, status, body)
		}
		if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
			t.Fatalf("Content-Type %q, want JSON", ct)
		}
		var m map[string]any
		decodeJSON(t, body, &m)
		msg, _ := m["error"].(string)
		if msg == "" {
			t.Fatalf("body %s has no \"error\"", body)
		}
		if !strings.Contains(msg, mentions) {
			t.Fatalf("error %q does not mention %q", msg, mentions)
		}
		return m
	}

	t.Run("unknown stream", func(t *testing.T) {
		resp, body := ts.get(t, "/events?stream=nope")
		m := checkJSONError(t, resp, body, http.StatusNotFound, "nope")
		if m["stream"] != "nope" {
			t.Errorf("body %s: stream is not \"nope\"", body)
		}
	})
	t.Run("root redirects", func(t *testing.T) {
		c := &http.Client{
			Transport:     ts.client.Transport,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
		resp, err := c.Get(ts.url + "/")
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != "/temperature" {
			t.Fatalf("GET / = %s, Location %q; want 302 to /temperature", resp.Status, resp.Header.Get("Location"))
		}
	})
	t.Run("page", func(t *testing.T) {
		resp, body := ts.get(t, "/temperature")
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("status %s", resp.Status)
		}
		if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
			t.Errorf("Content-Type %q", ct)
		}
		if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'self'") {
			t.Errorf("Content-Security-Policy %q", csp)
		}
		page := string(body)
		if !strings.Contains(page, `id="temperature"`) {
			t.Errorf("page has no id=\"temperature\"")
		}
		scripts := regexp.MustCompile(`(?is)<script\b([^>]*)>(.*?)</script>`).FindAllStringSubmatch(page, -1)
		if len(scripts) == 0 {
			t.Errorf("page has no script")
		}
		for _, s := range scripts {
			if !strings.Contains(s[1], "src=") || strings.TrimSpace(s[2]) != "" {
				t.Errorf("inline script (blocked by the CSP): %q", s[0])
			}
		}
		if regexp.MustCompile(`(?i)\son[a-z]+\s*=`).MatchString(page) {
			t.Errorf("page has an inline event handler attribute")
		}
	})
	t.Run("static script", func(t *testing.T) {
		resp, body := ts.get(t, "/static/temperature.js")
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("status %s", resp.Status)
		}
		if ct := resp.Header.Get("Content-Type"); !strings.Contains(ct, "javascript") {
			t.Errorf("Content-Type %q", ct)
		}
		for _, want := range []string{"EventSource", "'temperature'", "textContent"} {
			if !strings.Contains(string(body), want) {
				t.Errorf("script has no %s", want)
			}
		}
		if strings.Contains(string(body), "innerHTML") {
			t.Errorf("script uses innerHTML")
		}
	})
	t.Run("no directory listing", func(t *testing.T) {
		resp, body := ts.get(t, "/static/")
		if resp.StatusCode != http.StatusNotFound || !strings.Contains(string(body), `"error"`) {
			t.Fatalf("GET /static/: %s %s", resp.Status, body)
		}
	})
	t.Run("healthz", func(t *testing.T) {
		resp, body := ts.get(t, "/healthz")
		if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
			t.Fatalf("GET /healthz = %s %q", resp.Status, resp.Header.Get("Content-Type"))
		}
		var m map[string]any
		decodeJSON(t, body, &m)
		if m["status"] != "ok" {
			t.Errorf("body %s", body)
		}
	})
	t.Run("readyz", func(t *testing.T) {
		resp, body := ts.get(t, "/readyz")
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET /readyz = %s %s", resp.Status, body)
		}
	})
	t.Run("metrics", func(t *testing.T) {
		resp, body := ts.get(t, "/metrics")
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET /metrics = %s", resp.Status)
		}
		for _, name := range []string{
			"tempstream_sse_events_published_total", "tempstream_sse_subscribers",
			"tempstream_sse_events_delivered_total", "tempstream_sse_bytes_delivered_total",
		} {
			if !strings.Contains(string(body), "\n"+name+"{") {
				t.Errorf("/metrics has no %s", name)
			}
		}
		if got := ts.metric(t, "tempstream_sse_events_published_total", `stream="temperature"`); got != 1 {
			t.Errorf("events published = %v, want 1 (the startup reading)", got)
		}
	})
	t.Run("unknown path", func(t *testing.T) {
		resp, body := ts.get(t, "/no/such/path")
		checkJSONError(t, resp, body, http.StatusNotFound, "/no/such/path")
	})
	t.Run("wrong method", func(t *testing.T) {
		resp, err := ts.client.Post(ts.url+"/events", "text/plain", strings.NewReader("x"))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		checkJSONError(t, resp, body, http.StatusMethodNotAllowed, "POST")
	})
}
