package main

// Integration tests of "real sensors in" (issue 4), against the real program:
// every status of POST /api/v1/readings, "acknowledged means delivered"
// under a burst of good and bad requests, the ?sensor= filter of /events
// (with resume), the JSON API (/api/v1/sensors, /api/v1/readings) and the
// new flags. The watch command has its own tests.

import (
	"bytes"
	"cmp"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tempstream/tempstream/pkg/sse"
	"github.com/tempstream/tempstream/pkg/sse/ssetest"
)

// startIngestServer starts a server that takes readings with ingestToken,
// has no practical rate limit and runs no simulator, so the stream carries
// only what the test ingests (event 1 is the first reading it sends). args
// come after those flags and can override them.
func startIngestServer(t testing.TB, args ...string) *testServer {
	t.Helper()
	return startServer(t, append([]string{"--sim=false", "--publish-token", ingestToken, "--publish-rate", "1000000"}, args...)...)
}

// waitSubscribed waits until the server has subscribed the stream c: its
// "stream opened" line is logged after that, so c gets every event
// published from then on.
func (ts *testServer) waitSubscribed(t testing.TB, c *ssetest.Stream) {
	t.Helper()
	ts.logs.Wait(t, 5*time.Second, "stream opened for "+c.Local(), func(l logLine) bool {
		return l.Str("msg") == "stream opened" && l.Str("remote") == c.Local()
	})
}

// eventReading decodes the data of a temperature event, strictly.
func eventReading(t testing.TB, ev sse.Received) readingData {
	t.Helper()
	if ev.Type != "temperature" {
		t.Fatalf("event %s has type %q (data %s), want temperature", ev.LastEventID, ev.Type, ev.Data)
	}
	var r readingData
	decodeStrict(t, ev.Data, &r)
	return r
}

// expectEvent reads the next event of c (within 2s: it is due at once) and
// checks it is the reading of sensor with sequence number seq.
func expectEvent(t testing.TB, who string, c *ssetest.Stream, seq uint64, sensor string) sse.Received {
	t.Helper()
	ev, err := c.Next(2 * time.Second)
	if err != nil {
		t.Fatalf("%s: no event %d of %s within 2s: %v", who, seq, sensor, err)
	}
	if r := eventReading(t, ev); r.Sensor != sensor || seqOf(t, ev.LastEventID) != seq {
		t.Fatalf("%s: got %s %s, want event %d of %s", who, ev.LastEventID, ev.Data, seq, sensor)
	}
	return ev
}

// sameEvents fails unless got and want are the same events (IDs, types and
// data), in the same order.
func sameEvents(t testing.TB, who string, got, want []sse.Received) {
	t.Helper()
	ids := func(evs []sse.Received) []string {
		out := make([]string, len(evs))
		for i, ev := range evs {
			out[i] = ev.LastEventID
		}
		return out
	}
	if len(got) != len(want) {
		t.Fatalf("%s: %d events %v, want %d %v", who, len(got), ids(got), len(want), ids(want))
	}
	for i := range got {
		g, w := got[i], want[i]
		if g.LastEventID != w.LastEventID || g.Type != w.Type || !bytes.Equal(g.Data, w.Data) {
			t.Fatalf("%s: event %d is %s %s %s, want %s %s %s", who, i, g.LastEventID, g.Type, g.Data, w.LastEventID, w.Type, w.Data)
		}
	}
}

// ofSensors returns the events of evs with a sequence number in (after,
// until] whose sensor is one of sensors.
func ofSensors(t testing.TB, evs []sse.Received, after, until uint64, sensors ...string) []sse.Received {
	t.Helper()
	var out []sse.Received
	for _, ev := range evs {
		if s := seqOf(t, ev.LastEventID); s > after && s <= until && slices.Contains(sensors, eventReading(t, ev).Sensor) {
			out = append(out, ev)
		}
	}
	return out
}

// sameAsEvents fails unless the API's readings are exactly the events evs:
// same IDs, same readings.
func sameAsEvents(t testing.TB, who string, items []apiReading, evs []sse.Received) {
	t.Helper()
	if len(items) != len(evs) {
		t.Fatalf("%s: %d readings, the stream had %d: %s", who, len(items), len(evs), truncate(asJSON(items), 2000))
	}
	for i, it := range items {
		if it.ID != evs[i].LastEventID || it.readingData != eventReading(t, evs[i]) {
			t.Fatalf("%s: reading %d is %s, the stream had %s %s", who, i, asJSON(it), evs[i].LastEventID, evs[i].Data)
		}
	}
}

// ---------------------------------------------------------------------------
// POST /api/v1/readings: every status

// TestIngestStatuses: 401, 415, 413 and every 400 of the issue, each a JSON
// error naming the problem that publishes nothing; and 202 for single
// readings and batches, with their consecutive event IDs.
func TestIngestStatuses(t *testing.T) {
	t.Parallel()
	ts := startIngestServer(t)
	valid := []byte(ingestReading{Sensor: "lab-1", Celsius: 21.5}.JSON())
	acceptedTotal, lastID := 0, ""

	// refused sends p, checks that it is refused and that nothing was
	// published: the stream has nothing after the last accepted reading.
	refused := func(t *testing.T, p ingestPost) ingestAnswer {
		t.Helper()
		a := ts.ingest(t, p)
		if a.status < 400 {
			t.Fatalf("answer %s, want a refusal", a)
		}
		q := url.Values{}
		if lastID != "" {
			q.Set("since", lastID)
		}
		if got := ts.apiReadings(t, q); len(got.Readings) != 0 || got.Reset != nil {
			t.Fatalf("answer %s, yet the stream has %s after %q", a, asJSON(got), lastID)
		}
		return a
	}
	accept := func(t *testing.T, p ingestPost, n int) []string {
		t.Helper()
		ids := checkAccepted(t, ts.ingest(t, p), n)
		acceptedTotal += n
		lastID = ids[n-1]
		return ids
	}

	t.Run("401", func(t *testing.T) {
		for _, auth := range []string{
			"",                            // missing
			"Bearer wrong",                // wrong token
			"Bearer " + ingestToken[:5],   // a prefix of the token
			ingestAuth + "x",              // the token and more
			"Bearer",                      // no token
			"Bearer " + ingestToken + ",", // trailing comma
			"Basic " + base64.StdEncoding.EncodeToString([]byte("user:"+ingestToken)), // wrong scheme
			"Token " + ingestToken, // wrong scheme
			ingestToken,            // no scheme
		} {
			a := refused(t, ingestPost{auth: auth, contentType: "application/json", body: valid})
			e := checkError(t, a, http.StatusUnauthorized, "token")
			if e.Field == nil || *e.Field != "Authorization" {
				t.Errorf("Authorization %q: body %s does not name the field Authorization", auth, a.body)
			}
			if h := a.header.Get("WWW-Authenticate"); !strings.HasPrefix(h, "Bearer") {
				t.Errorf("Authorization %q: WWW-Authenticate %q, want a Bearer challenge", auth, h)
			}
		}
		// The token is checked first: an unauthorised client learns nothing
		// about its body.
		a := refused(t, ingestPost{contentType: "text/plain", body: []byte("nonsense")})
		checkError(t, a, http.StatusUnauthorized)
	})

	t.Run("415", func(t *testing.T) {
		for _, ct := range []string{"", "text/plain", "text/plain; charset=utf-8", "application/x-www-form-urlencoded",
			"multipart/form-data; boundary=x", "application/jsonl", "application/json-seq", "json"} {
			a := refused(t, ingestPost{auth: ingestAuth, contentType: ct, body: valid})
			e := checkError(t, a, http.StatusUnsupportedMediaType, "application/json")
			if e.Field == nil || *e.Field != "Content-Type" {
				t.Errorf("Content-Type %q: body %s does not name the field Content-Type", ct, a.body)
			}
		}
		// Parameters and case do not matter.
		for _, ct := range []string{"application/json; charset=utf-8", "Application/JSON", "application/json;charset=UTF-8"} {
			accept(t, ingestPost{auth: ingestAuth, contentType: ct, body: valid}, 1)
		}
	})

	t.Run("413", func(t *testing.T) {
		const mib = 1 << 20
		a := refused(t, ingestPost{auth: ingestAuth, contentType: "application/json", body: padBody(string(valid), mib+1)})
		checkError(t, a, http.StatusRequestEntityTooLarge, "1048576")
		// Without a Content-Length (chunked), the server counts as it reads.
		a = refused(t, ingestPost{auth: ingestAuth, contentType: "application/json", body: padBody(string(valid), 2*mib), chunked: true})
		checkError(t, a, http.StatusRequestEntityTooLarge, "1048576")
		// A body of exactly 1 MiB is taken, chunked or not.
		accept(t, ingestPost{auth: ingestAuth, contentType: "application/json", body: padBody(string(valid), mib)}, 1)
		accept(t, ingestPost{auth: ingestAuth, contentType: "application/json", body: padBody(string(valid), mib), chunked: true}, 1)
	})

	t.Run("400", func(t *testing.T) {
		long := strings.Repeat("a", 65)
		future := time.Now().Add(2 * time.Minute).UTC().Format(time.RFC3339)
		idx := readingsOf(5, "idx-0", 30)
		for i := range idx {
			idx[i].Sensor = fmt.Sprintf("idx-%d", i)
		}
		idx3 := rawBatch(idx[0].JSON(), idx[1].JSON(), idx[2].JSON(), `{"sensor":"idx-3","celsius":20000}`, idx[4].JSON())
		idx2 := rawBatch(idx[0].JSON(), idx[1].JSON(), `{"sensor":"IDX-2","celsius":20}`, idx[3].JSON())
		cases := []struct{ name, body, field, problem string }{
			{"malformed JSON, cut short", `{"sensor":"lab-1","celsius":`, "", "malformed JSON"},
			{"malformed JSON, bad token", `{"sensor":lab-1,"celsius":1}`, "", "malformed JSON"},
			{"malformed JSON in a batch", `[{"sensor":"lab-1","celsius":1},{"sensor":"lab-1" "celsius":1}]`, "", "malformed JSON"},
			{"empty body", ``, "", "empty body"},
			{"not an object", `"lab-1"`, "", "JSON object"},
			{"null", `null`, "", "JSON object"},
			{"unknown field", `{"sensor":"lab-1","celsius":1,"humidity":40}`, "humidity", "unknown field"},
			{"unknown field in a batch", `[{"sensor":"lab-1","celsius":1},{"sensor":"lab-1","celsius":1,"unit":"C"}]`, "[1].unit", "unknown field"},
			{"trailing data", `{"sensor":"lab-1","celsius":1} {"sensor":"lab-1","celsius":2}`, "", "trailing data"},
			{"trailing garbage", `{"sensor":"lab-1","celsius":1}x`, "", "trailing data"},
			{"trailing data after a batch", `[{"sensor":"lab-1","celsius":1}]]`, "", "trailing data"},
			{"missing sensor", `{"celsius":1}`, "sensor", "required"},
			{"empty sensor", `{"sensor":"","celsius":1}`, "sensor", "required"},
			{"sensor uppercase", `{"sensor":"Lab-1","celsius":1}`, "sensor", "must match"},
			{"sensor of 65 characters", `{"sensor":"` + long + `","celsius":1}`, "sensor", "must match"},
			{"sensor starting with -", `{"sensor":"-lab","celsius":1}`, "sensor", "must match"},
			{"sensor starting with .", `{"sensor":".lab","celsius":1}`, "sensor", "must match"},
			{"sensor with a slash", `{"sensor":"lab/1","celsius":1}`, "sensor", "must match"},
			{"sensor with a newline", `{"sensor":"lab\n1","celsius":1}`, "sensor", "must match"},
			{"sensor not a string", `{"sensor":7,"celsius":1}`, "sensor", "string"},
			{"missing celsius", `{"sensor":"lab-1"}`, "celsius", "required"},
			{"celsius null", `{"sensor":"lab-1","celsius":null}`, "celsius", "required"},
			{"celsius a string", `{"sensor":"lab-1","celsius":"21.5"}`, "celsius", "number"},
			{"celsius below absolute zero", `{"sensor":"lab-1","celsius":-273.16}`, "celsius", "-273.15"},
			{"celsius above 10000", `{"sensor":"lab-1","celsius":10000.01}`, "celsius", "10000"},
			{"celsius overflowing", `{"sensor":"lab-1","celsius":1e400}`, "celsius", "number"},
			{"at not RFC 3339", `{"sensor":"lab-1","celsius":1,"at":"2026-11-26 01:02:03"}`, "at", "RFC 3339"},
			{"at without a zone", `{"sensor":"lab-1","celsius":1,"at":"2026-11-26T01:02:03"}`, "at", "RFC 3339"},
			{"at a number", `{"sensor":"lab-1","celsius":1,"at":1764118923}`, "at", "string"},
			{"at more than a minute ahead", `{"sensor":"lab-1","celsius":1,"at":"` + future + `"}`, "at", "future"},
			{"empty batch", `[]`, "", "empty batch"},
			{"batch of 1001", batchJSON(readingsOf(1001, "lab-1", 40)...), "", "at most 1000"},
			{"batch item not an object", `[{"sensor":"lab-1","celsius":1},2]`, "[1]", "JSON object"},
			{"bad celsius at index 3", idx3, "[3].celsius", "-273.15"},
			{"bad sensor at index 2", idx2, "[2].sensor", "must match"},
		}
		for _, tc := range cases {
			a := refused(t, ingestPost{auth: ingestAuth, contentType: "application/json", body: []byte(tc.body)})
			t.Logf("%s: %s", tc.name, a.body)
			checkFieldError(t, a, tc.field, tc.problem)
		}
		// Of the batches refused for one bad reading, not even the good ones
		// before it are anywhere.
		if got := ts.apiReadings(t, url.Values{"sensor": {"idx-0,idx-1,idx-2,idx-3,idx-4"}}); len(got.Readings) != 0 {
			t.Fatalf("readings of the refused batches: %s", asJSON(got.Readings))
		}
		for _, s := range ts.apiSensors(t) {
			if strings.HasPrefix(s.Sensor, "idx-") {
				t.Fatalf("sensor %s of a refused batch is known: %s", s.Sensor, asJSON(s))
			}
		}
	})

	t.Run("202", func(t *testing.T) {
		// One reading without "at": server time, two decimals.
		before := time.Now().UTC().Truncate(time.Millisecond)
		ids := accept(t, ingestPost{auth: ingestAuth, contentType: "application/json", body: []byte(`{"sensor":"one","celsius":21.456}`)}, 1)
		after := time.Now().UTC()
		got := ts.apiReadings(t, url.Values{"sensor": {"one"}}).Readings
		if len(got) != 1 || got[0].ID != ids[0] || got[0].Data != "21.46" || got[0].Celsius != 21.46 || got[0].Sensor != "one" {
			t.Fatalf("reading of %s: %s, want 21.46 of sensor one", ids[0], asJSON(got))
		}
		if at, err := time.Parse(time.RFC3339, got[0].At); err != nil || at.Before(before) || at.After(after) || !millisUTC.MatchString(got[0].At) {
			t.Fatalf("at %q: not the server's time (UTC, milliseconds) between %v and %v (%v)", got[0].At, before, after, err)
		}

		// The scheme is case-insensitive and may be followed by several
		// spaces (RFC 7235 section 2.1, RFC 6750 section 2.1).
		for _, auth := range []string{"bearer " + ingestToken, "BEARER " + ingestToken, "Bearer  " + ingestToken} {
			accept(t, ingestPost{auth: auth, contentType: "application/json", body: []byte(`{"sensor":"one","celsius":1}`)}, 1)
		}

		// "at" with an offset comes out in UTC with milliseconds.
		ids = accept(t, ingestPost{auth: ingestAuth, contentType: "application/json",
			body: []byte(`{"sensor":"two","celsius":-5,"at":"2026-01-02T03:04:05.6789+02:00"}`)}, 1)
		got = ts.apiReadings(t, url.Values{"sensor": {"two"}}).Readings
		if len(got) != 1 || got[0].ID != ids[0] || got[0].At != "2026-01-02T01:04:05.678Z" || got[0].Data != "-5.00" {
			t.Fatalf("reading of %s: %s, want -5.00 at 2026-01-02T01:04:05.678Z", ids[0], asJSON(got))
		}

		// A batch, with every limit at its edge: consecutive IDs, in order.
		soon := time.Now().Add(30 * time.Second).UTC().Format(time.RFC3339Nano)
		batch := append(readingsOf(5, "three", 10),
			ingestReading{Sensor: strings.Repeat("z", 64), Celsius: -273.15},
			ingestReading{Sensor: "0.a_b-c", Celsius: 10000},
			ingestReading{Sensor: "three", Celsius: 0, At: soon})
		last := ids[0]
		ids = accept(t, ingestPost{auth: ingestAuth, contentType: "application/json; charset=utf-8", body: []byte(batchJSON(batch...))}, len(batch))
		got = ts.apiReadings(t, url.Values{"since": {last}}).Readings
		if len(got) != len(batch) {
			t.Fatalf("after %s: %d readings %s, want the batch of %d", last, len(got), asJSON(got), len(batch))
		}
		for i, r := range batch {
			if got[i].ID != ids[i] || got[i].Sensor != r.Sensor || got[i].Data != strconv.FormatFloat(r.Celsius, 'f', 2, 64) {
				t.Fatalf("reading %d: %s, want %s with ID %s", i, asJSON(got[i]), r.JSON(), ids[i])
			}
		}

		// The largest batch, 1000 readings.
		last = ids[len(ids)-1]
		ids = accept(t, ingestPost{auth: ingestAuth, contentType: "application/json", body: []byte(batchJSON(readingsOf(1000, "four", 50)...))}, 1000)
		all := ts.apiReadings(t, url.Values{"since": {last}, "limit": {"10000"}})
		if len(all.Readings) != 1000 || all.Readings[0].ID != ids[0] || all.LastID != ids[999] {
			t.Fatalf("after %s: %d readings up to %s, want the 1000 from %s to %s", last, len(all.Readings), all.LastID, ids[0], ids[999])
		}
	})

	// Everything published was acknowledged, and the other way round: the
	// stream holds exactly the accepted readings, numbered from 1.
	if n := ts.publishedCount(t); n != float64(acceptedTotal) {
		t.Fatalf("%v events published, %d readings accepted", n, acceptedTotal)
	}
	all := ts.apiReadings(t, url.Values{"limit": {"10000"}})
	if len(all.Readings) != acceptedTotal || seqOf(t, all.Readings[0].ID) != 1 {
		t.Fatalf("%d readings retained from %s, %d accepted", len(all.Readings), all.Readings[0].ID, acceptedTotal)
	}
}

// TestIngestDisabled: without --publish-token, ingest answers 403 with a
// JSON error saying how to enable it, whatever the request carries.
func TestIngestDisabled(t *testing.T) {
	t.Parallel()
	ts := startServer(t, "--sim=false")
	body := []byte(ingestReading{Sensor: "lab-1", Celsius: 20}.JSON())
	for _, auth := range []string{"", "Bearer ", "Bearer x", "Basic eDp5"} {
		a := ts.ingest(t, ingestPost{auth: auth, contentType: "application/json", body: body})
		checkError(t, a, http.StatusForbidden, "--publish-token", "TEMPSTREAM_PUBLISH_TOKEN", "Authorization: Bearer")
	}
	if n := ts.publishedCount(t); n != 0 {
		t.Fatalf("%v events published with ingest disabled", n)
	}
	if s := ts.apiSensors(t); len(s) != 0 {
		t.Fatalf("sensors %s with ingest disabled and no simulator", asJSON(s))
	}
}

// TestIngestMaxSensors: with --max-sensors 3, a batch that brings a 4th
// sensor is refused whole (400 naming the field sensor); readings of known
// sensors still go in.
func TestIngestMaxSensors(t *testing.T) {
	t.Parallel()
	ts := startIngestServer(t, "--max-sensors", "3")
	checkAccepted(t, ts.ingestJSON(t, batchJSON(ingestReading{Sensor: "s-1", Celsius: 1}, ingestReading{Sensor: "s-2", Celsius: 2})), 2)
	checkAccepted(t, ts.ingestJSON(t, batchJSON(ingestReading{Sensor: "s-3", Celsius: 3}, ingestReading{Sensor: "s-1", Celsius: 4})), 2)

	for _, body := range []string{
		batchJSON(ingestReading{Sensor: "s-1", Celsius: 99.99}, ingestReading{Sensor: "s-2", Celsius: 99.99},
			ingestReading{Sensor: "s-4", Celsius: 99.99}, ingestReading{Sensor: "s-3", Celsius: 99.99}),
		ingestReading{Sensor: "s-4", Celsius: 99.99}.JSON(),
	} {
		a := ts.ingestJSON(t, body)
		e := checkFieldError(t, a, "sensor", "")
		if !strings.Contains(e.Error, "--max-sensors") {
			t.Errorf("error %q does not mention --max-sensors", e.Error)
		}
	}
	if n := ts.publishedCount(t); n != 4 {
		t.Fatalf("%v events published, want the 4 accepted", n)
	}
	sensors := ts.apiSensors(t)
	var names []string
	for _, s := range sensors {
		names = append(names, s.Sensor)
		if s.Celsius == 99.99 {
			t.Fatalf("a reading of the refused batch is the latest of %s: %s", s.Sensor, asJSON(s))
		}
	}
	if !slices.Equal(names, []string{"s-1", "s-2", "s-3"}) {
		t.Fatalf("sensors %v, want s-1, s-2, s-3", names)
	}
	// Known sensors are still welcome.
	checkAccepted(t, ts.ingestJSON(t, batchJSON(ingestReading{Sensor: "s-2", Celsius: 5}, ingestReading{Sensor: "s-3", Celsius: 6})), 2)
}

// TestIngestRateLimit: past --publish-rate requests a second, 429 with a
// JSON error; one limiter counts per client address, another per token.
func TestIngestRateLimit(t *testing.T) {
	t.Parallel()
	body := func(c float64) []byte { return []byte(ingestReading{Sensor: "lab-1", Celsius: c}.JSON()) }

	// httprate's window slides: its counts are exact only for requests close
	// together. A run whose requests spread over more than 150ms (a loaded
	// machine) proves nothing, and is done again on a fresh server.
	quickly := func(t *testing.T, scenario func(ts *testServer) []ingestAnswer) (*testServer, []ingestAnswer) {
		t.Helper()
		for range 3 {
			ts := startIngestServer(t, "--publish-rate", "3")
			start := time.Now()
			answers := scenario(ts)
			d := time.Since(start)
			if d < 150*time.Millisecond {
				return ts, answers
			}
			t.Logf("requests took %v: again", d)
		}
		t.Fatal("3 runs of 6 requests each took more than 150ms")
		return nil, nil
	}
	check := func(t *testing.T, answers []ingestAnswer, want []int) {
		t.Helper()
		for i, a := range answers {
			if a.status != want[i] {
				t.Fatalf("request %d: %s, want %d (all: %v)", i+1, a, want[i], answers)
			}
			if a.status == http.StatusTooManyRequests {
				checkError(t, a, http.StatusTooManyRequests, "rate limit")
				if ra := a.header.Get("Retry-After"); ra != "1" {
					t.Errorf("429 with Retry-After %q, want 1", ra)
				}
				if l := a.header.Get("X-RateLimit-Limit"); l != "3" {
					t.Errorf("429 with X-RateLimit-Limit %q, want 3", l)
				}
			}
		}
	}

	t.Run("per address", func(t *testing.T) {
		t.Parallel()
		ts, answers := quickly(t, func(ts *testServer) []ingestAnswer {
			other := clientFromIP(t, "127.0.0.2")
			var as []ingestAnswer
			// A different wrong token each time: only the address limiter
			// sees the same key again.
			for i := range 4 {
				as = append(as, ts.ingest(t, ingestPost{auth: fmt.Sprintf("Bearer wrong-%d", i), contentType: "application/json", body: body(99.99)}))
			}
			// The address is limited, whatever the token.
			as = append(as, ts.ingest(t, ingestPost{auth: ingestAuth, contentType: "application/json", body: body(99.99)}))
			// Another address is not, with the same token.
			as = append(as, ts.ingest(t, ingestPost{auth: ingestAuth, contentType: "application/json", body: body(20), client: other}))
			return as
		})
		check(t, answers, []int{401, 401, 401, 429, 429, 202})
		if got := ts.apiReadings(t, nil).Readings; len(got) != 1 || got[0].Celsius != 20 {
			t.Fatalf("readings %s, want only the one accepted (20)", asJSON(got))
		}
	})

	t.Run("per token", func(t *testing.T) {
		t.Parallel()
		ts, answers := quickly(t, func(ts *testServer) []ingestAnswer {
			var as []ingestAnswer
			// A new address each time: only the token limiter sees the same
			// key again.
			for i := range 4 {
				c := clientFromIP(t, fmt.Sprintf("127.0.0.%d", 10+i))
				as = append(as, ts.ingest(t, ingestPost{auth: ingestAuth, contentType: "application/json", body: body(float64(20 + i)), client: c}))
			}
			// Another token is not limited (and then refused for being wrong).
			as = append(as, ts.ingest(t, ingestPost{auth: "Bearer other", contentType: "application/json", body: body(99.99), client: clientFromIP(t, "127.0.0.20")}))
			return as
		})
		check(t, answers, []int{202, 202, 202, 429, 401})
		got := ts.apiReadings(t, nil).Readings
		if len(got) != 3 || got[0].Celsius != 20 || got[2].Celsius != 22 {
			t.Fatalf("readings %s, want only the 3 accepted (20, 21, 22)", asJSON(got))
		}
	})
}

// ---------------------------------------------------------------------------
// Acknowledged means delivered

// TestAcknowledgedMeansDelivered: while a client follows /events, four
// goroutines post an interleaved burst of good batches and every kind of bad
// request (401, 415, 413, each 400, too many sensors) and a fifth gets
// good-looking readings refused with 429 (403 needs a server without a
// token: TestIngestDisabled). Afterwards the server still
// streams; the client got every accepted reading exactly once, in order,
// under the IDs of the 202 answers, and nothing of any refused request: the
// stream is numbered 1, 2, 3, … with no number spent on a refusal.
func TestAcknowledgedMeansDelivered(t *testing.T) {
	t.Parallel()
	const rate = 100 // more than the burst's requests from one address or with the token
	ts := startIngestServer(t, "--publish-rate", strconv.Itoa(rate), "--max-sensors", "4")
	live := ts.openStream(t, "/events")
	ts.waitSubscribed(t, live)
	col := live.Record(t)

	// Accepted readings get celsius 10.01, 10.02, …; refused ones 500.01, …
	// (or a value that is itself the problem): every value is unique.
	good, bad := 1000, 50000
	goodVal := func() float64 { good++; return float64(good) / 100 }
	badVal := func() float64 { bad++; return float64(bad) / 100 }
	goodOf := func(sensors ...string) []ingestReading {
		rs := make([]ingestReading, len(sensors))
		for i, s := range sensors {
			rs[i] = ingestReading{Sensor: s, Celsius: goodVal()}
		}
		return rs
	}
	badOf := func(n int, sensor string) []ingestReading {
		rs := make([]ingestReading, n)
		for i := range rs {
			rs[i] = ingestReading{Sensor: sensor, Celsius: badVal()}
		}
		return rs
	}
	badOne := func(sensor string) string { return ingestReading{Sensor: sensor, Celsius: badVal()}.JSON() }

	type step struct {
		name   string
		p      ingestPost
		status int
		rs     []ingestReading // the readings of a post that must be accepted
	}
	jsonPost := func(body string) ingestPost {
		return ingestPost{auth: ingestAuth, contentType: "application/json", body: []byte(body)}
	}
	goodStep := func(name string, rs []ingestReading, p ingestPost) step {
		return step{name: name, p: p, status: http.StatusAccepted, rs: rs}
	}
	badStep := func(name string, status int, p ingestPost) step {
		return step{name: name, p: p, status: status}
	}

	base := time.Now().Add(-time.Hour).UTC()
	withAt := goodOf("lab-2", "lab-2", "lab-2", "lab-2", "lab-2", "lab-2", "lab-2", "lab-2", "lab-2", "lab-2")
	for i := range withAt {
		withAt[i].At = base.Add(time.Duration(i) * time.Second).Format(time.RFC3339Nano)
	}
	var mixed []ingestReading
	for i := range 25 {
		mixed = append(mixed, goodOf(fmt.Sprintf("lab-%d", 1+i%4))...)
	}
	one := goodOf("lab-4")
	charset := goodOf("lab-3")
	three := goodOf("lab-1", "lab-3", "lab-1")
	chunked := goodOf("lab-2", "lab-2", "lab-4", "lab-1", "lab-3")
	first, four := goodOf("lab-1"), goodOf("lab-1", "lab-2", "lab-3", "lab-4")
	idx3 := badOf(5, "lab-1")
	idx3[3].Celsius = 10000.01

	goods := []step{
		goodStep("one reading", first, jsonPost(first[0].JSON())),
		goodStep("a batch of the 4 sensors", four, jsonPost(batchJSON(four...))),
		goodStep("a batch with at", withAt, jsonPost(batchJSON(withAt...))),
		goodStep("charset", charset, ingestPost{auth: ingestAuth, contentType: "application/json; charset=utf-8", body: []byte(charset[0].JSON())}),
		goodStep("a batch of 25", mixed, jsonPost(batchJSON(mixed...))),
		goodStep("1 MiB exactly", one, ingestPost{auth: ingestAuth, contentType: "application/json", body: padBody(one[0].JSON(), 1<<20)}),
		goodStep("a batch of 3", three, jsonPost(batchJSON(three...))),
		goodStep("chunked", chunked, ingestPost{auth: ingestAuth, contentType: "application/json", body: []byte(batchJSON(chunked...)), chunked: true}),
	}
	bads := []step{
		badStep("no token", 401, ingestPost{contentType: "application/json", body: []byte(badOne("lab-1"))}),
		badStep("wrong token", 401, ingestPost{auth: "Bearer nope", contentType: "application/json", body: []byte(badOne("lab-1"))}),
		badStep("wrong scheme", 401, ingestPost{auth: "Basic " + base64.StdEncoding.EncodeToString([]byte("x:"+ingestToken)), contentType: "application/json", body: []byte(badOne("lab-1"))}),
		badStep("text/plain", 415, ingestPost{auth: ingestAuth, contentType: "text/plain", body: []byte(badOne("lab-2"))}),
		badStep("no Content-Type", 415, ingestPost{auth: ingestAuth, body: []byte(badOne("lab-2"))}),
		badStep("over 1 MiB", 413, ingestPost{auth: ingestAuth, contentType: "application/json", body: padBody(badOne("lab-3"), 1<<20+1)}),
		badStep("malformed JSON", 400, jsonPost(`{"sensor":"lab-1","celsius":`+strconv.Itoa(bad))),
		badStep("unknown field", 400, jsonPost(strings.TrimSuffix(badOne("lab-1"), "}")+`,"unit":"C"}`)),
		badStep("trailing data", 400, jsonPost(badOne("lab-1")+badOne("lab-1"))),
		badStep("missing sensor", 400, jsonPost(fmt.Sprintf(`{"celsius":%v}`, badVal()))),
		badStep("sensor uppercase", 400, jsonPost(badOne("LAB-1"))),
		badStep("sensor too long", 400, jsonPost(badOne(strings.Repeat("l", 65)))),
		badStep("sensor starting with -", 400, jsonPost(badOne("-lab"))),
		badStep("celsius a string", 400, jsonPost(`{"sensor":"lab-1","celsius":"21.5"}`)),
		badStep("celsius below -273.15", 400, jsonPost(ingestReading{Sensor: "lab-1", Celsius: -273.16}.JSON())),
		badStep("celsius above 10000", 400, jsonPost(ingestReading{Sensor: "lab-1", Celsius: 10000.01}.JSON())),
		badStep("at not RFC 3339", 400, jsonPost(ingestReading{Sensor: "lab-1", Celsius: badVal(), At: "yesterday"}.JSON())),
		badStep("at in 2 minutes", 400, jsonPost(ingestReading{Sensor: "lab-1", Celsius: badVal(), At: time.Now().Add(2 * time.Minute).Format(time.RFC3339)}.JSON())),
		badStep("empty batch", 400, jsonPost(`[]`)),
		badStep("batch of 1001", 400, jsonPost(batchJSON(badOf(1001, "lab-2")...))),
		badStep("bad reading at index 3", 400, jsonPost(batchJSON(idx3...))),
		// 5 new sensors are too many for --max-sensors 4 whatever is known.
		badStep("too many sensors", 400, jsonPost(batchJSON(append(badOf(1, "new-1"), append(badOf(1, "new-2"),
			append(badOf(1, "new-3"), append(badOf(1, "new-4"), badOf(1, "new-5")...)...)...)...)...))),
	}
	// Interleave: a good one, then about three bad ones, and so on.
	var steps []step
	for i, b := range bads {
		if i%3 == 0 && i/3 < len(goods) {
			steps = append(steps, goods[i/3])
		}
		steps = append(steps, b)
	}
	for i := (len(bads) + 2) / 3; i < len(goods); i++ {
		steps = append(steps, goods[i])
	}

	type result struct {
		s   step
		a   ingestAnswer
		err error
	}
	var (
		mu      sync.Mutex
		results []result
	)
	record := func(s step, a ingestAnswer, err error) {
		mu.Lock()
		defer mu.Unlock()
		results = append(results, result{s, a, err})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	start := time.Now()
	var wg sync.WaitGroup
	const workers = 4
	for w := range workers {
		wg.Go(func() {
			for i := w; i < len(steps); i += workers {
				a, err := ts.tryIngest(ctx, steps[i].p)
				record(steps[i], a, err)
			}
		})
	}
	// 429: from another address, wrong-token posts (401) until the address
	// is limited, then a good-looking reading with the right token. If the
	// limiter's sliding window happens to let that one through, it is an
	// accepted reading like any other, and the fifth goroutine tries again.
	hot := clientFromIP(t, "127.0.0.2")
	limited := 0
	wg.Go(func() {
		for try := 0; limited < 2 && try < 10; try++ {
			for range rate + 10 {
				a, err := ts.tryIngest(ctx, ingestPost{auth: "Bearer hot", contentType: "application/json", body: []byte(badOne("lab-1")), client: hot})
				if err != nil || a.status != http.StatusUnauthorized {
					if err != nil || a.status != http.StatusTooManyRequests {
						record(badStep("filling the address's quota", 401, ingestPost{}), a, err)
					}
					break
				}
			}
			probe := goodOf("lab-3")
			a, err := ts.tryIngest(ctx, ingestPost{auth: ingestAuth, contentType: "application/json", body: []byte(probe[0].JSON()), client: hot})
			s := badStep("rate limited", 429, ingestPost{})
			if err == nil && a.status == http.StatusAccepted {
				s = goodStep("rate limited, but the window had slid", probe, ingestPost{})
			} else if err == nil && a.status == http.StatusTooManyRequests {
				limited++
			}
			record(s, a, err)
		}
	})
	wg.Wait()
	t.Logf("%d requests in %v, %d of them 429", len(results), time.Since(start), limited)
	if limited < 2 {
		t.Errorf("only %d requests were refused with 429", limited)
	}

	type want struct {
		id string
		r  ingestReading
	}
	var accepted []want
	for _, res := range results {
		if res.err != nil {
			t.Fatalf("%s: %v", res.s.name, res.err)
		}
		if res.a.status != res.s.status {
			t.Fatalf("%s: %s, want %d", res.s.name, res.a, res.s.status)
		}
		if res.s.status != http.StatusAccepted {
			continue
		}
		for i, id := range checkAccepted(t, res.a, len(res.s.rs)) {
			accepted = append(accepted, want{id, res.s.rs[i]})
		}
	}
	// The server still streams: one more reading reaches the client.
	last := goodOf("lab-2")
	for i, id := range checkAccepted(t, ts.ingestJSON(t, last[0].JSON()), 1) {
		accepted = append(accepted, want{id, last[i]})
	}
	slices.SortFunc(accepted, func(a, b want) int { return cmp.Compare(seqOf(t, a.id), seqOf(t, b.id)) })
	n := uint64(len(accepted))
	for i, w := range accepted {
		if seqOf(t, w.id) != uint64(i+1) {
			t.Fatalf("accepted IDs are not 1 to %d: #%d is %s", n, i+1, w.id)
		}
	}

	evs := col.Wait(t, 10*time.Second, fmt.Sprintf("the %d accepted readings", n), func(evs []sse.Received) bool {
		return len(evs) > 0 && seqOf(t, evs[len(evs)-1].LastEventID) >= n
	})
	checkConsecutive(t, "live client", evs, 1)
	if uint64(len(evs)) != n {
		t.Fatalf("live client got %d events, %d readings were accepted", len(evs), n)
	}
	for i, ev := range evs {
		w, r := accepted[i], eventReading(t, ev)
		if ev.LastEventID != w.id || r.Sensor != w.r.Sensor || r.Data != strconv.FormatFloat(w.r.Celsius, 'f', 2, 64) || r.Celsius != w.r.Celsius {
			t.Fatalf("live client: event %d is %s %s, want %s as acknowledged: %s", i, ev.LastEventID, ev.Data, w.id, w.r.JSON())
		}
		if r.Celsius >= 500 {
			t.Fatalf("live client: event %s %s is a refused reading", ev.LastEventID, ev.Data)
		}
		if w.r.At != "" {
			at, _ := time.Parse(time.RFC3339, w.r.At)
			if r.At != at.UTC().Format("2006-01-02T15:04:05.000Z07:00") {
				t.Fatalf("live client: event %s at %s, sent %s", ev.LastEventID, r.At, w.r.At)
			}
		} else if at, err := time.Parse(time.RFC3339, r.At); err != nil || at.Before(start.Add(-time.Millisecond)) || at.After(time.Now()) {
			t.Fatalf("live client: event %s at %s: not the server's time during the burst (%v)", ev.LastEventID, r.At, err)
		}
	}
	if _, _, err := col.Snapshot(); err != nil {
		t.Fatalf("live client's stream ended: %v", err)
	}
	// The stream, the ring and the API agree.
	if p := ts.publishedCount(t); p != float64(n) {
		t.Fatalf("%v events published, %d readings accepted", p, n)
	}
	late := ts.openStream(t, "/events?lastEventId=earliest")
	var replay []sse.Received
	for range n {
		replay = append(replay, late.MustNext(t, 5*time.Second))
	}
	sameEvents(t, "replay from earliest", replay, evs)
	sameAsEvents(t, "GET /api/v1/readings", ts.apiReadings(t, url.Values{"limit": {"10000"}}).Readings, evs)
}

// ---------------------------------------------------------------------------
// ?sensor= on /events

// TestSensorFilter: with three simulated sensors, a client following sim-2
// gets exactly the sim-2 events a client following everything sees, one
// following sim-1 and sim-3 exactly theirs; each starts with the latest
// reading of its sensors.
func TestSensorFilter(t *testing.T) {
	t.Parallel()
	ts := startServer(t, "--sim-sensors", "3", "--interval", "20ms", "--retention", "100000")
	ref := reference(t, ts)
	f2 := ts.openStream(t, "/events?sensor=sim-2").Record(t)
	f13 := ts.openStream(t, "/events?sensor="+url.QueryEscape("sim-3, sim-1")).Record(t)
	evs2 := f2.Wait(t, 5*time.Second, "10 events of sim-2", func(evs []sse.Received) bool { return len(evs) >= 10 })
	evs13 := f13.Wait(t, 5*time.Second, "20 events of sim-1 and sim-3", func(evs []sse.Received) bool { return len(evs) >= 20 })

	for _, c := range []struct {
		who     string
		evs     []sse.Received
		sensors []string
	}{{"?sensor=sim-2", evs2, []string{"sim-2"}}, {"?sensor=sim-3, sim-1", evs13, []string{"sim-1", "sim-3"}}} {
		lo, hi := seqOf(t, c.evs[0].LastEventID), seqOf(t, c.evs[len(c.evs)-1].LastEventID)
		refEvs := waitSeq(t, ref, 5*time.Second, hi)
		checkConsecutive(t, "reference", refEvs, seqOf(t, refEvs[0].LastEventID))
		sameEvents(t, c.who, c.evs, ofSensors(t, refEvs, lo-1, hi, c.sensors...))
	}
	// The simulator publishes sim-1, sim-2, sim-3 as one batch, so the latest
	// of sim-1 and sim-3 on connect are two apart.
	r0, r1 := eventReading(t, evs13[0]), eventReading(t, evs13[1])
	if r0.Sensor != "sim-1" || r1.Sensor != "sim-3" || seqOf(t, evs13[1].LastEventID) != seqOf(t, evs13[0].LastEventID)+2 {
		t.Fatalf("first events %s %s, %s %s: want the latest of sim-1, then of sim-3, of one batch",
			evs13[0].LastEventID, evs13[0].Data, evs13[1].LastEventID, evs13[1].Data)
	}
}

// TestSensorFilterOnConnect: a filtered client gets at once the latest
// reading of each sensor it follows (oldest first), then only theirs.
// Nothing is due from the simulator for an hour: every event is one the
// test caused.
func TestSensorFilterOnConnect(t *testing.T) {
	t.Parallel()
	ts := startServer(t, "--sim-sensors", "3", "--interval", "1h", "--publish-token", ingestToken)
	// The startup batch: sim-1, sim-2 and sim-3 are events 1, 2 and 3.
	c13 := ts.openStream(t, "/events?sensor=sim-1,sim-3")
	expectEvent(t, "sim-1,sim-3", c13, 1, "sim-1")
	expectEvent(t, "sim-1,sim-3", c13, 3, "sim-3")
	c2 := ts.openStream(t, "/events?sensor=sim-2")
	expectEvent(t, "sim-2", c2, 2, "sim-2")
	c9 := ts.openStream(t, "/events?sensor=lab-9,lab-9") // an unknown sensor, twice
	ts.waitSubscribed(t, c9)

	checkAccepted(t, ts.ingestJSON(t, batchJSON(ingestReading{Sensor: "sim-2", Celsius: 40}, ingestReading{Sensor: "sim-3", Celsius: 41},
		ingestReading{Sensor: "lab-9", Celsius: 42}, ingestReading{Sensor: "sim-1", Celsius: 43})), 4) // events 4 to 7
	expectEvent(t, "sim-1,sim-3", c13, 5, "sim-3")
	expectEvent(t, "sim-1,sim-3", c13, 7, "sim-1")
	expectEvent(t, "sim-2", c2, 4, "sim-2")
	expectEvent(t, "lab-9", c9, 6, "lab-9")

	checkAccepted(t, ts.ingestJSON(t, batchJSON(ingestReading{Sensor: "lab-9", Celsius: 44}, ingestReading{Sensor: "sim-2", Celsius: 45},
		ingestReading{Sensor: "sim-1", Celsius: 46})), 3) // events 8 to 10
	expectEvent(t, "sim-1,sim-3", c13, 10, "sim-1")
	expectEvent(t, "sim-2", c2, 9, "sim-2")
	expectEvent(t, "lab-9", c9, 8, "lab-9")

	// A new client gets the latest of each of its sensors, oldest first.
	c := ts.openStream(t, "/events?sensor=sim-2,sim-3,lab-9")
	expectEvent(t, "sim-2,sim-3,lab-9", c, 5, "sim-3")
	expectEvent(t, "sim-2,sim-3,lab-9", c, 8, "lab-9")
	ev := expectEvent(t, "sim-2,sim-3,lab-9", c, 9, "sim-2")
	if r := eventReading(t, ev); r.Celsius != 45 {
		t.Fatalf("latest of sim-2: %s, want 45", ev.Data)
	}
}

// TestSensorFilterResume: a filtered client that leaves and resumes with
// Last-Event-ID (or ?lastEventId=) under the same filter gets exactly the
// events a filtered client that stayed saw after that ID: no gap, no
// duplicate, none of other sensors.
func TestSensorFilterResume(t *testing.T) {
	t.Parallel()
	ts := startServer(t, "--sim-sensors", "3", "--interval", "20ms", "--retention", "100000")
	const filter = "/events?sensor=sim-1,sim-3"
	fref := ts.openStream(t, filter).Record(t)
	fref.Wait(t, 5*time.Second, "the filtered reference's first events", func(evs []sse.Received) bool { return len(evs) >= 2 })

	// readAfter reads c until past seq until, and checks it against fref.
	readAfter := func(who string, c *ssetest.Stream, after, until uint64) {
		t.Helper()
		var got []sse.Received
		for len(got) == 0 || seqOf(t, got[len(got)-1].LastEventID) < until {
			ev := c.MustNext(t, 5*time.Second)
			eventReading(t, ev) // a temperature event: no reset
			got = append(got, ev)
		}
		refEvs := waitSeq(t, fref, 5*time.Second, until)
		sameEvents(t, who, got, ofSensors(t, refEvs, after, seqOf(t, got[len(got)-1].LastEventID), "sim-1", "sim-3"))
	}
	// moreAfter waits until fref has seen 6 events after seq and returns the
	// seq of its newest plus 4 (so the resumed client reads live ones too).
	moreAfter := func(seq uint64) uint64 {
		evs := fref.Wait(t, 5*time.Second, "6 more events", func(evs []sse.Received) bool {
			return len(ofSensors(t, evs, seq, 1<<62, "sim-1", "sim-3")) >= 6
		})
		return seqOf(t, evs[len(evs)-1].LastEventID) + 4
	}

	b := ts.openStream(t, filter)
	for range 4 {
		b.MustNext(t, 5*time.Second)
	}
	last := b.LastEventID()
	b.Close()
	lastSeq := seqOf(t, last)
	b2 := ts.openStream(t, filter, "Last-Event-ID: "+last)
	readAfter("resumed with Last-Event-ID", b2, lastSeq, moreAfter(lastSeq))
	b2.Close()

	// From the ID of an event of a sensor the filter leaves out: sim-2's,
	// the one after a sim-1 event (the API says which it is).
	evs, _, _ := fref.Snapshot()
	var from string
	for _, ev := range evs {
		if eventReading(t, ev).Sensor == "sim-1" && seqOf(t, ev.LastEventID) > lastSeq {
			from = fmt.Sprintf("%s-%d", epochOf(t, ev.LastEventID), seqOf(t, ev.LastEventID)+1)
			break
		}
	}
	if from == "" {
		t.Fatalf("no sim-1 event after %s in %d events", last, len(evs))
	}
	probe := ts.apiReadings(t, url.Values{"since": {fmt.Sprintf("%s-%d", epochOf(t, from), seqOf(t, from)-1)}, "limit": {"1"}}).Readings
	if len(probe) != 1 || probe[0].ID != from || probe[0].Sensor != "sim-2" {
		t.Fatalf("event %s is %s, want one of sim-2", from, asJSON(probe))
	}
	c := ts.openStream(t, filter+"&lastEventId="+url.QueryEscape(from))
	readAfter("resumed with ?lastEventId= from a sim-2 event", c, seqOf(t, from), moreAfter(seqOf(t, from)))
	c.Close()

	// A resume point the server cannot place: a reset, then the followed
	// sensors' retained events from the first.
	r := ts.openStream(t, filter, "Last-Event-ID: nope")
	checkReset(t, r, "unknown", "nope")
	expectEvent(t, "after the reset", r, 1, "sim-1")
	expectEvent(t, "after the reset", r, 3, "sim-3")
	expectEvent(t, "after the reset", r, 4, "sim-1")
}

// TestSensorFilterInvalid: a malformed ?sensor= list is a 400 with a JSON
// error, not a stream; 100 sensors are fine.
func TestSensorFilterInvalid(t *testing.T) {
	t.Parallel()
	ts := startServer(t, "--interval", "1h")
	var many []string
	for i := range 101 {
		many = append(many, fmt.Sprintf("s-%d", i))
	}
	bad := []string{"Sim-1", "sim-1,", ",sim-1", "sim-1,Sim-2", "-sim", strings.Repeat("s", 65), "sim 1", "sim/1", strings.Join(many, ",")}
	for _, q := range bad {
		resp, body := ts.get(t, "/events?sensor="+url.QueryEscape(q))
		checkError(t, ingestAnswer{status: resp.StatusCode, header: resp.Header, body: body}, http.StatusBadRequest, "sensor")
	}
	if n := ts.metric(t, "tempstream_sse_rejected_connections_total", `reason="bad_request"`); n != float64(len(bad)) {
		t.Errorf("rejected for a bad request: %v, want %d", n, len(bad))
	}
	c := ts.openStream(t, "/events?sensor="+strings.Join(many[:99], ",")+",sim-1")
	c.MustNext(t, 5*time.Second)
}

// ---------------------------------------------------------------------------
// GET /api/v1/sensors and /api/v1/readings

// TestSensorsAPI: every sensor, simulated or ingested, with its latest
// reading and that reading's event ID, sorted; the same as the stream.
func TestSensorsAPI(t *testing.T) {
	t.Parallel()
	ts := startServer(t, "--sim-sensors", "2", "--interval", "1h", "--publish-token", ingestToken)
	// Events 1, 2: sim-1, sim-2 at start; 3, 4, 5: ingested.
	checkAccepted(t, ts.ingestJSON(t, batchJSON(ingestReading{Sensor: "lab-b", Celsius: 1}, ingestReading{Sensor: "lab-a", Celsius: 2})), 2)
	checkAccepted(t, ts.ingestJSON(t, ingestReading{Sensor: "lab-a", Celsius: 3, At: "2026-01-01T00:00:00Z"}.JSON()), 1)

	c := ts.openStream(t, "/events?lastEventId=earliest")
	latest := map[string]sse.Received{}
	for range 5 {
		ev := c.MustNext(t, 5*time.Second)
		latest[eventReading(t, ev).Sensor] = ev
	}
	got := ts.apiSensors(t)
	var names []string
	for _, s := range got {
		names = append(names, s.Sensor)
	}
	if !slices.Equal(names, []string{"lab-a", "lab-b", "sim-1", "sim-2"}) {
		t.Fatalf("sensors %v, want lab-a, lab-b, sim-1, sim-2", names)
	}
	for _, s := range got {
		sameAsEvents(t, "sensor "+s.Sensor, []apiReading{s}, []sse.Received{latest[s.Sensor]})
	}
	if got[0].Data != "3.00" || got[0].At != "2026-01-01T00:00:00.000Z" || seqOf(t, got[0].ID) != 5 {
		t.Fatalf("lab-a: %s, want its reading 3.00 of event 5", asJSON(got[0]))
	}
}

// TestReadingsAPI: GET /api/v1/readings?sensor=…&since=<id> answers exactly
// the retained readings after that ID of those sensors, as the stream
// carried them; limit pages through them; a since it cannot place gets the
// retained readings and a reset, as on the stream.
func TestReadingsAPI(t *testing.T) {
	t.Parallel()
	ts := startServer(t, "--sim-sensors", "3", "--interval", "10ms", "--retention", "100000", "--publish-token", ingestToken)
	ref := reference(t, ts)
	ids := checkAccepted(t, ts.ingestJSON(t, batchJSON(readingsOf(3, "lab-1", 15)...)), 3)
	since := ids[0]
	sinceSeq := seqOf(t, since)
	refEvs := waitSeq(t, ref, 5*time.Second, sinceSeq+20)
	checkConsecutive(t, "reference", refEvs, seqOf(t, refEvs[0].LastEventID))
	epoch := epochOf(t, since)

	t.Run("since", func(t *testing.T) {
		for _, sensors := range [][]string{nil, {"sim-2"}, {"lab-1", "sim-3"}} {
			q := url.Values{"since": {since}}
			all := []string{"sim-1", "sim-2", "sim-3", "lab-1"}
			if sensors != nil {
				q.Set("sensor", strings.Join(sensors, ","))
				all = sensors
			}
			got := ts.apiReadings(t, q)
			if got.Reset != nil || len(got.Readings) == 0 {
				t.Fatalf("%v: reset %v, %d readings", q, got.Reset, len(got.Readings))
			}
			lastSeq := seqOf(t, got.LastID)
			sameAsEvents(t, q.Encode(), got.Readings, ofSensors(t, waitSeq(t, ref, 5*time.Second, lastSeq), sinceSeq, lastSeq, all...))
		}
	})
	t.Run("all retained", func(t *testing.T) {
		for _, q := range []url.Values{nil, {"since": {"earliest"}}} {
			got := ts.apiReadings(t, q)
			if got.Reset != nil || len(got.Readings) < int(sinceSeq) || got.Readings[0].ID != epoch+"-1" {
				t.Fatalf("%v: reset %v, %d readings from %v", q, got.Reset, len(got.Readings), got.Readings[0].ID)
			}
		}
	})
	t.Run("limit", func(t *testing.T) {
		var pages []apiReading
		after := since
		for range 5 {
			got := ts.apiReadings(t, url.Values{"since": {after}, "limit": {"3"}})
			if len(got.Readings) != 3 {
				t.Fatalf("limit=3 after %s: %d readings", after, len(got.Readings))
			}
			pages = append(pages, got.Readings...)
			after = got.LastID
		}
		sameAsEvents(t, "5 pages of 3", pages, ofSensors(t, waitSeq(t, ref, 5*time.Second, sinceSeq+15), sinceSeq, sinceSeq+15, "sim-1", "sim-2", "sim-3", "lab-1"))
		if got := ts.apiReadings(t, url.Values{"limit": {"10000"}}); len(got.Readings) == 0 {
			t.Fatal("limit=10000: no readings")
		}
		for _, l := range []string{"0", "-1", "abc", "10001", "1.5", "1e3", " 3"} {
			resp, body := ts.get(t, "/api/v1/readings?limit="+url.QueryEscape(l))
			checkFieldError(t, ingestAnswer{status: resp.StatusCode, header: resp.Header, body: body}, "limit", "")
		}
	})
	t.Run("bad sensor", func(t *testing.T) {
		for _, s := range []string{"Sim-1", "sim-1,", "-x"} {
			resp, body := ts.get(t, "/api/v1/readings?sensor="+url.QueryEscape(s))
			checkFieldError(t, ingestAnswer{status: resp.StatusCode, header: resp.Header, body: body}, "sensor", "")
		}
	})
	t.Run("unknown since", func(t *testing.T) {
		for _, s := range []string{"nope", "abc-5", epoch + "-0", epoch + "-99999999", epoch} {
			got := ts.apiReadings(t, url.Values{"since": {s}, "sensor": {"sim-2"}})
			// oldestId is the first event that follows: sim-2's first.
			if got.Reset == nil || got.Reset.Reason != "unknown" || got.Reset.LastEventID != s || got.Reset.OldestID != epoch+"-2" {
				t.Fatalf("since=%s: reset %s, want unknown, oldest %s-2", s, asJSON(got.Reset), epoch)
			}
			if len(got.Readings) == 0 || got.Readings[0].ID != epoch+"-2" || got.Readings[0].Sensor != "sim-2" {
				t.Fatalf("since=%s: readings from %s, want every retained one of sim-2, from event 2", s, asJSON(got.Readings[:min(1, len(got.Readings))]))
			}
		}
	})
}

// TestReadingsAPIExpired: a since older than retention gets the retained
// readings and a reset "expired" (not when the followed sensors had nothing
// since, as on the stream); the oldest retained neighbour is still exact.
func TestReadingsAPIExpired(t *testing.T) {
	t.Parallel()
	ts := startIngestServer(t, "--retention", "10")
	ids := checkAccepted(t, ts.ingestJSON(t, ingestReading{Sensor: "lab-q", Celsius: 1}.JSON()), 1)
	epoch := epochOf(t, ids[0])
	for i := range 4 {
		checkAccepted(t, ts.ingestJSON(t, batchJSON(readingsOf(5, "lab-1", float64(10+i))...)), 5)
	} // events 1 (lab-q) and 2 to 21 (lab-1): 12 to 21 are retained
	id := func(seq int) string { return fmt.Sprintf("%s-%d", epoch, seq) }

	got := ts.apiReadings(t, url.Values{"since": {id(1)}})
	if got.Reset == nil || got.Reset.Reason != "expired" || got.Reset.LastEventID != id(1) || got.Reset.OldestID != id(12) {
		t.Fatalf("since=%s: reset %s, want expired, oldest %s", id(1), asJSON(got.Reset), id(12))
	}
	if len(got.Readings) != 10 || got.Readings[0].ID != id(12) || got.LastID != id(21) {
		t.Fatalf("since=%s: %d readings from %v, want 12 to 21", id(1), len(got.Readings), asJSON(got.Readings[:1]))
	}
	if got := ts.apiReadings(t, url.Values{"since": {id(10)}}); got.Reset == nil || got.Reset.Reason != "expired" {
		t.Fatalf("since=%s (event 11 is gone): reset %s, want expired", id(10), asJSON(got.Reset))
	}
	if got := ts.apiReadings(t, url.Values{"since": {id(11)}}); got.Reset != nil || len(got.Readings) != 10 {
		t.Fatalf("since=%s (nothing after it is gone): reset %s, %d readings, want none and 10", id(11), asJSON(got.Reset), len(got.Readings))
	}
	// lab-q had nothing after event 1: nothing of it was missed.
	if got := ts.apiReadings(t, url.Values{"since": {id(1)}, "sensor": {"lab-q"}}); got.Reset != nil || len(got.Readings) != 0 {
		t.Fatalf("since=%s for lab-q: reset %s, readings %s, want neither", id(1), asJSON(got.Reset), asJSON(got.Readings))
	}
}

// ---------------------------------------------------------------------------
// Flags

// TestSimSensors: --sim-sensors (or TEMPSTREAM_SIM_SENSORS) is a count or
// a list of names; each sensor has a reading at start, in the given order.
func TestSimSensors(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name       string
		args       []string
		env        map[string]string
		wantStream []string // the startup batch, in order
	}{
		{"default", nil, nil, []string{"sim-1"}},
		{"count", []string{"--sim-sensors", "3"}, nil, []string{"sim-1", "sim-2", "sim-3"}},
		{"names", []string{"--sim-sensors", "lab-b,lab-a"}, nil, []string{"lab-b", "lab-a"}},
		{"environment", nil, map[string]string{"TEMPSTREAM_SIM_SENSORS": "x_2, x.1"}, []string{"x_2", "x.1"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ts := startServerEnv(t, tc.env, append([]string{"--interval", "1h"}, tc.args...)...)
			c := ts.openStream(t, "/events?lastEventId=earliest")
			for i, s := range tc.wantStream {
				ev := expectEvent(t, "earliest", c, uint64(i+1), s)
				if r := eventReading(t, ev); r.Celsius < 20 || r.Celsius > 30 {
					t.Errorf("%s: %v °C outside [20, 30]", s, r.Celsius)
				}
			}
			var names []string
			for _, s := range ts.apiSensors(t) {
				names = append(names, s.Sensor)
			}
			want := slices.Sorted(slices.Values(tc.wantStream))
			if !slices.Equal(names, want) {
				t.Fatalf("sensors %v, want %v", names, want)
			}
		})
	}
}

// TestSimSensorsWalkApart: each simulated sensor walks on its own.
func TestSimSensorsWalkApart(t *testing.T) {
	t.Parallel()
	ts := startServer(t, "--sim-sensors", "2", "--interval", "5ms")
	ref := reference(t, ts)
	evs := ref.Wait(t, 5*time.Second, "40 events", func(evs []sse.Received) bool { return len(evs) >= 40 })
	series := map[string][]float64{}
	for _, ev := range evs {
		r := eventReading(t, ev)
		series[r.Sensor] = append(series[r.Sensor], r.Celsius)
	}
	a, b := series["sim-1"], series["sim-2"]
	if len(a) < 15 || len(b) < 15 {
		t.Fatalf("%d readings of sim-1, %d of sim-2", len(a), len(b))
	}
	n := min(len(a), len(b))
	if slices.Equal(a[:n], b[:n]) {
		t.Fatalf("sim-1 and sim-2 walked the same: %v", a[:n])
	}
}

// TestSimOff: with --sim=false (here TEMPSTREAM_SIM=false) nothing is
// published until a reading is ingested, and then it is event 1.
func TestSimOff(t *testing.T) {
	t.Parallel()
	ts := startServerEnv(t, map[string]string{"TEMPSTREAM_SIM": "false", "TEMPSTREAM_PUBLISH_TOKEN": ingestToken},
		"--interval", "5ms", "--heartbeat", "50ms")
	c, tap := ts.openTapped(t, "/events")
	tap.stop = 3
	if ev, err := c.Next(5 * time.Second); err == nil {
		t.Fatalf("an event (%s %s) with the simulator off", ev.LastEventID, ev.Data)
	} else if !errors.Is(err, errEnough) {
		t.Fatalf("waiting for 3 heartbeats: %v", err)
	}
	c.Close()
	if n := ts.publishedCount(t); n != 0 {
		t.Fatalf("%v events published with the simulator off", n)
	}
	if s := ts.apiSensors(t); len(s) != 0 {
		t.Fatalf("sensors %s with the simulator off", asJSON(s))
	}
	if r := ts.apiReadings(t, nil); len(r.Readings) != 0 {
		t.Fatalf("readings %s with the simulator off", asJSON(r.Readings))
	}

	c = ts.openStream(t, "/events")
	ts.waitSubscribed(t, c)
	checkAccepted(t, ts.ingestJSON(t, ingestReading{Sensor: "lab-1", Celsius: 18}.JSON()), 1)
	expectEvent(t, "after ingest", c, 1, "lab-1")
}

// TestIngestConfigErrors: bad values of the new flags stop run at once with
// a one-line usageError naming the flag and its variable.
func TestIngestConfigErrors(t *testing.T) {
	t.Parallel()
	cases := []configCase{
		{"sim-sensors uppercase", []string{"--sim-sensors", "Lab"}, nil, []string{"--sim-sensors", "TEMPSTREAM_SIM_SENSORS", "Lab"}},
		{"sim-sensors zero", []string{"--sim-sensors", "0"}, nil, []string{"--sim-sensors"}},
		{"sim-sensors negative", []string{"--sim-sensors", "-1"}, nil, []string{"--sim-sensors"}},
		{"sim-sensors over 1000", []string{"--sim-sensors", "1001"}, nil, []string{"--sim-sensors"}},
		{"sim-sensors duplicate", []string{"--sim-sensors", "lab-a,lab-a"}, nil, []string{"--sim-sensors", "lab-a"}},
		{"sim-sensors empty name", []string{"--sim-sensors", "lab-a,,lab-b"}, nil, []string{"--sim-sensors"}},
		{"sim-sensors empty", []string{"--sim-sensors", ""}, nil, []string{"--sim-sensors"}},
		{"sim-sensors from the environment", nil, map[string]string{"TEMPSTREAM_SIM_SENSORS": "Lab"}, []string{"--sim-sensors", "TEMPSTREAM_SIM_SENSORS"}},
		{"sim not a bool", []string{"--sim=maybe"}, nil, []string{"sim", "maybe"}},
		{"sim not a bool in the environment", nil, map[string]string{"TEMPSTREAM_SIM": "maybe"}, []string{"--sim", "TEMPSTREAM_SIM"}},
		{"publish-rate zero", []string{"--publish-rate", "0"}, nil, []string{"--publish-rate", "TEMPSTREAM_PUBLISH_RATE"}},
		{"max-sensors zero", []string{"--max-sensors", "0"}, nil, []string{"--max-sensors", "TEMPSTREAM_MAX_SENSORS"}},
		{"max-sensors under the simulated ones", []string{"--sim-sensors", "5", "--max-sensors", "3"}, nil, []string{"--max-sensors", "5 simulated"}},
		{"sim-sensors over half the retention", []string{"--sim-sensors", "6", "--retention", "10"}, nil, []string{"--sim-sensors", "--retention"}},
	}
	checkConfigErrors(t, cases)
}

// TestIngestLargeBatchKeepsSubscribers: a batch of 1000 readings, which the
// API allows, reaches a connected client whole; so do the readings of 300
// simulated sensors, which --sim-sensors allows.
func TestIngestLargeBatchKeepsSubscribers(t *testing.T) {
	t.Parallel()
	t.Run("ingested", func(t *testing.T) {
		t.Parallel()
		ts := startIngestServer(t)
		c := ts.openStream(t, "/events")
		ts.waitSubscribed(t, c)
		ids := checkAccepted(t, ts.ingestJSON(t, batchJSON(readingsOf(1000, "lab-1", 10)...)), 1000)
		for _, id := range ids {
			if ev := c.MustNext(t, 5*time.Second); ev.LastEventID != id {
				t.Fatalf("got %s, want %s", ev.LastEventID, id)
			}
		}
	})
	t.Run("simulated", func(t *testing.T) {
		t.Parallel()
		ts := startServer(t, "--sim-sensors", "300", "--interval", "50ms")
		c := ts.openStream(t, "/events")
		first := c.MustNext(t, 5*time.Second)
		got := []sse.Received{first}
		for len(got) < 4*300 {
			got = append(got, c.MustNext(t, 5*time.Second))
		}
		checkConsecutive(t, "300 sensors", got[299:], seqOf(t, got[299].LastEventID))
	})
}

// TestIngestBatchOverHalfTheRetention: a batch longer than half the
// retention is refused whole, so a 202 never names readings already gone
// from the ring.
func TestIngestBatchOverHalfTheRetention(t *testing.T) {
	t.Parallel()
	ts := startIngestServer(t, "--retention", "10")
	e := checkError(t, ts.ingestJSON(t, batchJSON(readingsOf(6, "big", 1)...)), http.StatusBadRequest, "at most 5")
	if !strings.Contains(e.Problem, "--retention") {
		t.Fatalf("problem does not name --retention: %+v", e)
	}
	if got := ts.apiReadings(t, nil).Readings; len(got) != 0 {
		t.Fatalf("a refused batch left readings: %s", asJSON(got))
	}
	checkAccepted(t, ts.ingestJSON(t, batchJSON(readingsOf(5, "big", 1)...)), 5)
}

// TestSensorFilterRepeatedParameter: ?sensor=a&sensor=b follows both.
func TestSensorFilterRepeatedParameter(t *testing.T) {
	t.Parallel()
	ts := startIngestServer(t)
	checkAccepted(t, ts.ingestJSON(t, batchJSON(ingestReading{Sensor: "a", Celsius: 1}, ingestReading{Sensor: "b", Celsius: 2}, ingestReading{Sensor: "c", Celsius: 3})), 3)
	got := ts.apiReadings(t, url.Values{"sensor": {"a", "c"}}).Readings
	if len(got) != 2 || got[0].Sensor != "a" || got[1].Sensor != "c" {
		t.Fatalf("?sensor=a&sensor=c gave %s", asJSON(got))
	}
}
