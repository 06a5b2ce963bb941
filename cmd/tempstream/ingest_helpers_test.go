package main

// Helpers of the ingest and JSON API tests (ingest_test.go): posting
// readings (from any loopback address), decoding the API's answers, and
// building request bodies.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"
)

// ingestToken is the --publish-token of the tests that ingest.
const ingestToken = "s3cret-token"

// ingestAuth is the Authorization header that ingestToken authorises.
const ingestAuth = "Bearer " + ingestToken

// clientFromIP returns an HTTP client whose connections come from the
// loopback address ip (all of 127.0.0.0/8 is loopback on Linux), so that
// the server sees a client address of the test's choosing. Its idle
// connections are closed when the test ends, before the server stops.
func clientFromIP(t testing.TB, ip string) *http.Client {
	t.Helper()
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 5 * time.Second}
	tr := &http.Transport{DialContext: d.DialContext}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}
}

// ingestPost is one POST /api/v1/readings.
type ingestPost struct {
	auth        string // the Authorization header; none when empty
	contentType string // the Content-Type header; none when empty
	body        []byte
	chunked     bool         // send the body without a Content-Length
	client      *http.Client // ts.client when nil
}

// ingestAnswer is the server's answer to an ingestPost.
type ingestAnswer struct {
	status int
	header http.Header
	body   []byte
}

func (a ingestAnswer) String() string {
	return fmt.Sprintf("%d %s", a.status, truncate(string(a.body), 300))
}

// tryIngest sends p and returns the answer with its body read. It may be
// called from any goroutine.
func (ts *testServer) tryIngest(ctx context.Context, p ingestPost) (ingestAnswer, error) {
	var body io.Reader = bytes.NewReader(p.body)
	if p.chunked {
		body = io.MultiReader(bytes.NewReader(p.body)) // no length known: chunked
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, ts.url+"/api/v1/readings", body)
	if err != nil {
		return ingestAnswer{}, err
	}
	if p.auth != "" {
		req.Header.Set("Authorization", p.auth)
	}
	if p.contentType != "" {
		req.Header.Set("Content-Type", p.contentType)
	}
	c := p.client
	if c == nil {
		c = ts.client
	}
	resp, err := c.Do(req)
	if err != nil {
		return ingestAnswer{}, fmt.Errorf("POST /api/v1/readings: %w", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return ingestAnswer{}, fmt.Errorf("POST /api/v1/readings: reading the answer: %w", err)
	}
	return ingestAnswer{status: resp.StatusCode, header: resp.Header, body: b}, nil
}

// ingest sends p and returns the answer; no answer fails the test.
func (ts *testServer) ingest(t testing.TB, p ingestPost) ingestAnswer {
	t.Helper()
	a, err := ts.tryIngest(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// ingestJSON posts body as JSON with the right token.
func (ts *testServer) ingestJSON(t testing.TB, body string) ingestAnswer {
	t.Helper()
	return ts.ingest(t, ingestPost{auth: ingestAuth, contentType: "application/json", body: []byte(body)})
}

// acceptedBody is the body of a 202.
type acceptedBody struct {
	Accepted int      `json:"accepted"`
	IDs      []string `json:"ids"`
}

// checkAccepted fails unless a is a JSON 202 for n readings with n
// consecutive event IDs, and returns the IDs.
func checkAccepted(t testing.TB, a ingestAnswer, n int) []string {
	t.Helper()
	if a.status != http.StatusAccepted {
		t.Fatalf("answer %s, want 202", a)
	}
	if ct := a.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("202 with Content-Type %q, want JSON", ct)
	}
	var acc acceptedBody
	decodeStrict(t, a.body, &acc)
	if acc.Accepted != n || len(acc.IDs) != n {
		t.Fatalf("202 body %s: want %d readings accepted and %d IDs", truncate(string(a.body), 300), n, n)
	}
	first, epoch := seqOf(t, acc.IDs[0]), epochOf(t, acc.IDs[0])
	for i, id := range acc.IDs {
		if want := fmt.Sprintf("%s-%d", epoch, first+uint64(i)); id != want {
			t.Fatalf("202: ID %d is %s, want %s (not consecutive)", i, id, want)
		}
	}
	return acc.IDs
}

// apiErrorBody is a JSON error answer; Field is nil when it has none.
type apiErrorBody struct {
	Error   string  `json:"error"`
	Status  int     `json:"status"`
	Field   *string `json:"field"`
	Problem string  `json:"problem"`
}

// checkError fails unless a is a JSON error with the given status whose
// message mentions each of mentions, and returns it.
func checkError(t testing.TB, a ingestAnswer, status int, mentions ...string) apiErrorBody {
	t.Helper()
	if a.status != status {
		t.Fatalf("answer %s, want %d", a, status)
	}
	if ct := a.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("%d with Content-Type %q, want JSON; body %q", status, ct, a.body)
	}
	var e apiErrorBody
	dec := json.NewDecoder(bytes.NewReader(a.body))
	if err := dec.Decode(&e); err != nil {
		t.Fatalf("error body %q: %v", a.body, err)
	}
	if e.Error == "" || e.Status != status {
		t.Fatalf("error body %s: want \"error\" and \"status\":%d", a.body, status)
	}
	for _, m := range mentions {
		if !strings.Contains(e.Error, m) {
			t.Fatalf("error %q does not mention %q", e.Error, m)
		}
	}
	return e
}

// checkFieldError fails unless a is a 400 whose JSON names field (exactly)
// and a problem that mentions problem.
func checkFieldError(t testing.TB, a ingestAnswer, field, problem string) apiErrorBody {
	t.Helper()
	e := checkError(t, a, http.StatusBadRequest)
	if e.Field == nil {
		t.Fatalf("400 body %s names no field, want %q", a.body, field)
	}
	if *e.Field != field {
		t.Fatalf("400 body %s: field %q, want %q", a.body, *e.Field, field)
	}
	if e.Problem == "" && problem != "" || !strings.Contains(e.Problem, problem) {
		t.Fatalf("400 body %s: problem %q does not mention %q", a.body, e.Problem, problem)
	}
	return e
}

// apiReading is a reading as the JSON API answers it.
type apiReading struct {
	ID string `json:"id"`
	readingData
}

// readingsBody is the body of GET /api/v1/readings.
type readingsBody struct {
	Readings []apiReading `json:"readings"`
	LastID   string       `json:"lastId"`
	Reset    *resetData   `json:"reset"`
}

// apiReadings GETs /api/v1/readings with query and expects a 200.
func (ts *testServer) apiReadings(t testing.TB, query url.Values) readingsBody {
	t.Helper()
	path := "/api/v1/readings"
	if len(query) > 0 {
		path += "?" + query.Encode()
	}
	resp, body := ts.get(t, path)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s %s", path, resp.Status, body)
	}
	var rb readingsBody
	decodeStrict(t, body, &rb)
	if rb.Readings == nil {
		t.Fatalf("GET %s: %s has no \"readings\" array", path, body)
	}
	if n := len(rb.Readings); n > 0 && rb.LastID != rb.Readings[n-1].ID || n == 0 && rb.LastID != "" {
		t.Fatalf("GET %s: lastId %q is not the last reading's ID", path, rb.LastID)
	}
	return rb
}

// apiSensors GETs /api/v1/sensors and expects a 200.
func (ts *testServer) apiSensors(t testing.TB) []apiReading {
	t.Helper()
	resp, body := ts.get(t, "/api/v1/sensors")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /api/v1/sensors: %s %s", resp.Status, body)
	}
	var sb struct {
		Sensors []apiReading `json:"sensors"`
	}
	decodeStrict(t, body, &sb)
	if sb.Sensors == nil {
		t.Fatalf("GET /api/v1/sensors: %s has no \"sensors\" array", body)
	}
	return sb.Sensors
}

// publishedCount is the temperature stream's count of published events.
func (ts *testServer) publishedCount(t testing.TB) float64 {
	t.Helper()
	return ts.metric(t, "tempstream_sse_events_published_total", `stream="temperature"`)
}

// ---------------------------------------------------------------------------
// Bodies

// ingestReading is a reading to send; At is left out when empty.
type ingestReading struct {
	Sensor  string
	Celsius float64
	At      string
}

// JSON encodes r as an ingest object, celsius with two decimals.
func (r ingestReading) JSON() string {
	s := fmt.Sprintf(`{"sensor":%q,"celsius":%s`, r.Sensor, strconv.FormatFloat(r.Celsius, 'f', 2, 64))
	if r.At != "" {
		s += fmt.Sprintf(`,"at":%q`, r.At)
	}
	return s + "}"
}

// batchJSON encodes rs as a JSON array.
func batchJSON(rs ...ingestReading) string {
	parts := make([]string, len(rs))
	for i, r := range rs {
		parts[i] = r.JSON()
	}
	return rawBatch(parts...)
}

// rawBatch joins JSON values into an array.
func rawBatch(objs ...string) string { return "[" + strings.Join(objs, ",") + "]" }

// readingsOf returns n readings of sensor, from first °C up by 0.01.
func readingsOf(n int, sensor string, first float64) []ingestReading {
	rs := make([]ingestReading, n)
	for i := range rs {
		rs[i] = ingestReading{Sensor: sensor, Celsius: (math.Round(first*100) + float64(i)) / 100}
	}
	return rs
}

// padBody pads a JSON body with trailing spaces to exactly n bytes.
func padBody(body string, n int) []byte {
	return append([]byte(body), bytes.Repeat([]byte(" "), n-len(body))...)
}

// asJSON is v as JSON, for messages.
func asJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
