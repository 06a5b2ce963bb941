package main

// Integration tests of the history API, GET /api/v1/history (issue 13),
// against the real program: readings posted with known times, answers
// compared with buckets computed by hand (pkg/history's tests cover the
// width rule case by case), every refusal, the default range, the kind of
// history, and the --history-age flag.

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tempstream/tempstream/internal/testharness"
	"github.com/tempstream/tempstream/pkg/reading"
)

// historyDay is the day the tests' readings are taken: 2025-03-01T00:00Z,
// minute 29,013,120 since the epoch (20,148 days × 1,440).
var historyDay = time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)

// historyAge keeps historyDay in the history whatever the date: 100 years.
const historyAge = "876000h"

// hms is historyDay plus "hh:mm:ss".
func hms(t testing.TB, s string) time.Time {
	t.Helper()
	var h, m, sec int
	if _, err := fmt.Sscanf(s, "%d:%d:%d", &h, &m, &sec); err != nil {
		t.Fatalf("time %q: %v", s, err)
	}
	return historyDay.Add(time.Duration(h)*time.Hour + time.Duration(m)*time.Minute + time.Duration(sec)*time.Second)
}

// stamp is t as readings' "at" (and the API's times) are written.
func stamp(t time.Time) string { return t.UTC().Format(reading.TimeFormat) }

// historyBody is the JSON of a history answer.
type historyBody struct {
	From    string `json:"from"`
	To      string `json:"to"`
	History string `json:"history"`
	Series  []struct {
		Sensor       string `json:"sensor"`
		WidthSeconds int64  `json:"widthSeconds"`
		Source       string `json:"source"`
		Points       []hp   `json:"points"`
	} `json:"series"`
}

// hp is a point of a history answer.
type hp struct {
	T     string  `json:"t"`
	Min   float64 `json:"min"`
	Avg   float64 `json:"avg"`
	Max   float64 `json:"max"`
	Count int64   `json:"count"`
}

func (p hp) String() string {
	return fmt.Sprintf("[%s %g/%g/%g ×%d]", p.T, p.Min, p.Avg, p.Max, p.Count)
}

// getHistory GETs /api/v1/history with the raw query string rawQuery.
func (ts *testServer) getHistory(t testing.TB, rawQuery string) ingestAnswer {
	t.Helper()
	resp, body := ts.get(t, "/api/v1/history?"+rawQuery)
	return ingestAnswer{status: resp.StatusCode, header: resp.Header, body: body}
}

// history GETs the history and expects a 200 with a strict JSON answer.
func (ts *testServer) history(t testing.TB, rawQuery string) historyBody {
	t.Helper()
	return historyOf(t, rawQuery, ts.getHistory(t, rawQuery))
}

// historyOf checks a, the answer to GET /api/v1/history?rawQuery: a 200
// with a strict JSON answer.
func historyOf(t testing.TB, rawQuery string, a ingestAnswer) historyBody {
	t.Helper()
	if a.status != http.StatusOK || !strings.HasPrefix(a.header.Get("Content-Type"), "application/json") {
		t.Fatalf("GET /api/v1/history?%s: %s (%s)", rawQuery, a, a.header.Get("Content-Type"))
	}
	var hb historyBody
	decodeStrict(t, a.body, &hb)
	if hb.Series == nil {
		t.Fatalf("GET /api/v1/history?%s: %s has no \"series\" array", rawQuery, a.body)
	}
	for _, s := range hb.Series {
		if s.Points == nil {
			t.Fatalf("GET /api/v1/history?%s: series %s has no \"points\" array", rawQuery, s.Sensor)
		}
	}
	return hb
}

// checkHistorySeries fails unless series i of hb is sensor's with the
// width (in seconds), source and points given.
func checkHistorySeries(t testing.TB, hb historyBody, i int, sensor string, width int64, source string, want ...hp) {
	t.Helper()
	if i >= len(hb.Series) {
		t.Fatalf("%d series, want %s at %d", len(hb.Series), sensor, i)
	}
	s := hb.Series[i]
	if s.Sensor != sensor || s.WidthSeconds != width || s.Source != source {
		t.Errorf("series %d: %s, %d s from %s; want %s, %d s from %s", i, s.Sensor, s.WidthSeconds, s.Source, sensor, width, source)
	}
	if !slices.Equal(s.Points, want) {
		t.Errorf("series %s:\n got %v\nwant %v", sensor, s.Points, want)
	}
}

// postHistory posts rs in batches of up to 1,000.
func (ts *testServer) postHistory(t testing.TB, rs []ingestReading) {
	t.Helper()
	for len(rs) > 0 {
		n := min(len(rs), 1000)
		checkAccepted(t, ts.ingestJSON(t, batchJSON(rs[:n]...)), n)
		rs = rs[n:]
	}
}

// TestHistoryAPI posts readings with known times and compares the history
// API's answers with buckets worked out by hand.
func TestHistoryAPI(t *testing.T) {
	t.Parallel()
	ts := startIngestServer(t, "--history-age", historyAge)
	var rs []ingestReading
	// lab-1: a reading every minute at :30 for an hour, 20 + m/4 °C in
	// minute m.
	for m := range 60 {
		rs = append(rs, ingestReading{Sensor: "lab-1", Celsius: 20 + float64(m)/4, At: stamp(historyDay.Add(time.Duration(m)*time.Minute + 30*time.Second))})
	}
	// lab-2: three readings.
	rs = append(rs,
		ingestReading{Sensor: "lab-2", Celsius: 20, At: stamp(hms(t, "00:00:10"))},
		ingestReading{Sensor: "lab-2", Celsius: 21.5, At: "2025-03-01T00:01:10.250Z"},
		ingestReading{Sensor: "lab-2", Celsius: 19.25, At: stamp(hms(t, "00:02:10"))})
	// lab-3: eight readings over six hours.
	for _, x := range []struct {
		at string
		c  float64
	}{
		{"00:10:00", 10}, {"00:50:00", 12}, {"01:30:00", 14}, {"01:50:00", 16},
		{"02:00:00", 20}, {"03:59:59", 21}, {"05:00:00", 30}, {"05:59:59", 33},
	} {
		rs = append(rs, ingestReading{Sensor: "lab-3", Celsius: x.c, At: stamp(hms(t, x.at))})
	}
	ts.postHistory(t, rs)

	t.Run("buckets", func(t *testing.T) {
		// [00:10, 00:52) in 4 points: 42 readings. 11 and 12 minutes
		// each give 5 aligned buckets; 13 gives 4, the day starting 6
		// minutes past a multiple of 13: edges at 00:07, 00:20, 00:33,
		// 00:46, 00:59. The first starts before from, the last ends after
		// to; each counts all its readings: minutes 7 to 19, and so on.
		hb := ts.history(t, "sensor=lab-1&from=2025-03-01T00:10:00Z&to=2025-03-01T00:52:00Z&points=4")
		if hb.From != "2025-03-01T00:10:00.000Z" || hb.To != "2025-03-01T00:52:00.000Z" || hb.History != "memory" {
			t.Errorf("answer from %s to %s, history %q", hb.From, hb.To, hb.History)
		}
		checkHistorySeries(t, hb, 0, "lab-1", 13*60, "minute",
			hp{"2025-03-01T00:07:00.000Z", 20 + 7.0/4, 20 + 13.0/4, 20 + 19.0/4, 13},
			hp{"2025-03-01T00:20:00.000Z", 20 + 20.0/4, 20 + 26.0/4, 20 + 32.0/4, 13},
			hp{"2025-03-01T00:33:00.000Z", 20 + 33.0/4, 20 + 39.0/4, 20 + 45.0/4, 13},
			hp{"2025-03-01T00:46:00.000Z", 20 + 46.0/4, 20 + 52.0/4, 20 + 58.0/4, 13})
	})
	t.Run("raw", func(t *testing.T) {
		// Three readings, ten points: each reading is a point, at its
		// time. lab-1's minutes 0 to 2 come too, and a sensor with no
		// reading has an empty series; the series are in the order asked.
		hb := ts.history(t, "sensor=lab-2,nobody,lab-1&from=2025-03-01T00:00:00Z&to=2025-03-01T00:03:00Z&points=10")
		checkHistorySeries(t, hb, 0, "lab-2", 0, "raw",
			hp{"2025-03-01T00:00:10.000Z", 20, 20, 20, 1},
			hp{"2025-03-01T00:01:10.250Z", 21.5, 21.5, 21.5, 1},
			hp{"2025-03-01T00:02:10.000Z", 19.25, 19.25, 19.25, 1})
		checkHistorySeries(t, hb, 1, "nobody", 0, "raw")
		checkHistorySeries(t, hb, 2, "lab-1", 0, "raw",
			hp{"2025-03-01T00:00:30.000Z", 20, 20, 20, 1},
			hp{"2025-03-01T00:01:30.000Z", 20.25, 20.25, 20.25, 1},
			hp{"2025-03-01T00:02:30.000Z", 20.5, 20.5, 20.5, 1})
	})
	t.Run("hour or minute", func(t *testing.T) {
		// 6 h in 3 points: 120 minutes; an hour or more, so 2 h from the
		// hour summaries.
		hb := ts.history(t, "sensor=lab-3&from=2025-03-01T00:00:00Z&to=2025-03-01T06:00:00Z&points=3")
		checkHistorySeries(t, hb, 0, "lab-3", 2*3600, "hour",
			hp{"2025-03-01T00:00:00.000Z", 10, 13, 16, 4},
			hp{"2025-03-01T02:00:00.000Z", 20, 20.5, 21, 2},
			hp{"2025-03-01T04:00:00.000Z", 30, 31.5, 33, 2})
		// 2 h in 3 points: 40 minutes (a divisor of a day).
		hb = ts.history(t, "sensor=lab-3&from=2025-03-01T00:00:00Z&to=2025-03-01T02:00:00Z&points=3")
		checkHistorySeries(t, hb, 0, "lab-3", 40*60, "minute",
			hp{"2025-03-01T00:00:00.000Z", 10, 10, 10, 1},
			hp{"2025-03-01T00:40:00.000Z", 12, 12, 12, 1},
			hp{"2025-03-01T01:20:00.000Z", 14, 15, 16, 2})
	})
	t.Run("offsets and every sensor", func(t *testing.T) {
		// An offset (escaped, or unescaped: its "+" arrives as a space)
		// is the same instant; the answer is in UTC. Without sensor=,
		// every known sensor, by ID.
		for _, from := range []string{"2025-03-01T01:00:00%2B01:00", "2025-03-01T01:00:00+01:00"} {
			hb := ts.history(t, "from="+from+"&to=2025-03-01T00:03:00Z&points=2000")
			if hb.From != "2025-03-01T00:00:00.000Z" {
				t.Errorf("from %s answered as %s", from, hb.From)
			}
			var got []string
			for _, s := range hb.Series {
				got = append(got, fmt.Sprintf("%s:%d", s.Sensor, len(s.Points)))
			}
			if want := []string{"lab-1:3", "lab-2:3", "lab-3:0"}; !slices.Equal(got, want) {
				t.Errorf("series %v, want %v", got, want)
			}
		}
	})
}

// TestHistoryUnderAMinute: a minute of readings a second apart, in 10
// points: 6 s buckets from the raw readings, 6 readings each.
func TestHistoryUnderAMinute(t *testing.T) {
	t.Parallel()
	ts := startIngestServer(t, "--history-age", historyAge)
	var rs []ingestReading
	for i := range 60 {
		rs = append(rs, ingestReading{Sensor: "s", Celsius: float64(i), At: stamp(historyDay.Add(time.Duration(i) * time.Second))})
	}
	ts.postHistory(t, rs)
	hb := ts.history(t, "sensor=s&from=2025-03-01T00:00:00Z&to=2025-03-01T00:01:00Z&points=10")
	var want []hp
	for j := range 10 {
		lo := float64(6 * j)
		want = append(want, hp{stamp(historyDay.Add(time.Duration(6*j) * time.Second)), lo, lo + 2.5, lo + 5, 6})
	}
	checkHistorySeries(t, hb, 0, "s", 6, "raw", want...)
}

// TestHistoryDefaultRange: without from and to, the day up to now; with to
// alone, the day before it.
func TestHistoryDefaultRange(t *testing.T) {
	t.Parallel()
	ts := startIngestServer(t) // the default --history-age, 30 days
	now := time.Now().UTC().Truncate(time.Millisecond)
	ts.postHistory(t, []ingestReading{
		{Sensor: "d", Celsius: 1, At: stamp(now.Add(-25 * time.Hour))},
		{Sensor: "d", Celsius: 2, At: stamp(now.Add(-23 * time.Hour))},
		{Sensor: "d", Celsius: 3, At: stamp(now.Add(-time.Hour))},
	})
	before := time.Now()
	hb := ts.history(t, "sensor=d")
	after := time.Now()
	from, err1 := time.Parse(time.RFC3339, hb.From)
	to, err2 := time.Parse(time.RFC3339, hb.To)
	if err1 != nil || err2 != nil || to.Before(before.Truncate(time.Millisecond)) || to.After(after) || to.Sub(from) != 24*time.Hour {
		t.Errorf("default range %s … %s, want the day up to a time in [%v, %v]", hb.From, hb.To, before, after)
	}
	checkHistorySeries(t, hb, 0, "d", 0, "raw",
		hp{stamp(now.Add(-23 * time.Hour)), 2, 2, 2, 1},
		hp{stamp(now.Add(-time.Hour)), 3, 3, 3, 1})

	hb = ts.history(t, "sensor=d&to="+url.QueryEscape(stamp(now.Add(-2*time.Hour))))
	if want := stamp(now.Add(-26 * time.Hour)); hb.From != want {
		t.Errorf("with to alone, from %s, want %s", hb.From, want)
	}
	checkHistorySeries(t, hb, 0, "d", 0, "raw", hp{stamp(now.Add(-25 * time.Hour)), 1, 1, 1, 1}, hp{stamp(now.Add(-23 * time.Hour)), 2, 2, 2, 1})

	// Readings older than --history-age are not kept: a range back
	// then is empty.
	ts.postHistory(t, []ingestReading{{Sensor: "d", Celsius: 4, At: stamp(now.Add(-31 * 24 * time.Hour))}})
	hb = ts.history(t, "sensor=d&to="+url.QueryEscape(stamp(now.Add(-30*24*time.Hour))))
	checkHistorySeries(t, hb, 0, "d", 0, "raw")
}

// TestHistoryBadRequests: every refusal is a 400 in the API's JSON error
// shape, naming the parameter.
func TestHistoryBadRequests(t *testing.T) {
	t.Parallel()
	ts := startIngestServer(t, "--max-sensors", "3")
	for _, tc := range []struct {
		query, field, problem string
	}{
		{"from=yesterday", "from", "RFC 3339"},
		{"from=2025-03-01", "from", "RFC 3339"},
		{"from=", "from", "RFC 3339"},
		{"to=2025-03-01T25:00:00Z", "to", "RFC 3339"},
		{"to=1741000000", "to", "RFC 3339"},
		{"from=2025-03-02T00:00:00Z&to=2025-03-01T00:00:00Z", "from", "not before to"},
		{"from=2025-03-01T00:00:00Z&to=2025-03-01T00:00:00Z", "from", "not before to"},
		{"to=2025-03-01T00:00:00Z&from=2025-03-01T01:00:00%2B01:00", "from", "not before to"},
		{"from=1969-12-31T23:59:59Z&to=1970-01-02T00:00:00Z", "from", "1970"},
		{"from=1970-01-01T00:00:00Z&to=2100-01-01T00:00:00Z", "to", "longer than"},
		{"from=2025-03-01T00:00:00Z&from=2025-03-01T01:00:00Z", "from", "more than once"},
		{"points=0", "points", "from 1 to 2000"},
		{"points=2001", "points", "from 1 to 2000"},
		{"points=-1", "points", "from 1 to 2000"},
		{"points=12.5", "points", "from 1 to 2000"},
		{"points=many", "points", "from 1 to 2000"},
		{"points=", "points", "from 1 to 2000"},
		{"points=1&points=2", "points", "more than once"},
		{"limit=10", "limit", "unknown parameter"},
		{"Sensor=a", "Sensor", "unknown parameter"},
		{"sensor=a&since=x", "since", "unknown parameter"},
		{"sensor=a,b,c,d", "sensor", "4 sensors listed, at most 3"},
		{"sensor=a,b&sensor=c,d", "sensor", "4 sensors listed, at most 3"},
		{"sensor=Bad!", "sensor", "does not match"},
	} {
		t.Run(tc.query, func(t *testing.T) {
			checkFieldError(t, ts.getHistory(t, tc.query), tc.field, tc.problem)
		})
	}
	// Three sensors (repeats count once) are fine.
	if hb := ts.history(t, "sensor=a,b,c,a&points=1"); len(hb.Series) != 3 {
		t.Errorf("%d series for a, b, c", len(hb.Series))
	}
}

// TestHistorySimulated: the simulator's readings are in the history too.
// A reading is recorded before the next one is published, so once a
// client has the second, the first is in the history.
func TestHistorySimulated(t *testing.T) {
	t.Parallel()
	ts := startServer(t, "--interval", "20ms", "--sim-sensors", "sim-a,sim-b")
	c := ts.openStream(t, "/events?sensor=sim-a")
	first := eventReading(t, c.MustNext(t, 5*time.Second))
	c.MustNext(t, 5*time.Second)
	hb := ts.history(t, "sensor=sim-a&from="+url.QueryEscape(first.At)+"&points=2000")
	if len(hb.Series[0].Points) == 0 {
		t.Fatalf("no history of sim-a from its reading at %s", first.At)
	}
	if p := hb.Series[0].Points[0]; p.T != first.At || p.Min != first.Celsius || p.Count != 1 || hb.Series[0].Source != "raw" {
		t.Errorf("first point %v from %s, want the reading %s at %s", p, hb.Series[0].Source, first.Data, first.At)
	}
	if hb := ts.history(t, "points=1"); len(hb.Series) != 2 || hb.Series[0].Sensor != "sim-a" || hb.Series[1].Sensor != "sim-b" {
		t.Errorf("every sensor: %+v", hb.Series)
	}
}

// TestHistoryNATS: with --store nats the history is JetStream's: readings
// taken as they are stored are answered raw at once (from the readings
// stream), and each is its own point when they are fewer than the points.
func TestHistoryNATS(t *testing.T) {
	t.Parallel()
	in := startInstance(t, "nats", ingestArgs("--data-dir", t.TempDir(), "--history-age", historyAge)...)
	now := time.Now().UTC().Truncate(time.Millisecond)
	a, b := now.Add(-2*time.Second), now.Add(-time.Second)
	in.mustPost(t, []ingestReading{
		{Sensor: "n", Celsius: 1.5, At: stamp(a)},
		{Sensor: "n", Celsius: 2.5, At: stamp(b)},
	})
	q := url.Values{"sensor": {"n"}, "from": {stamp(now.Add(-time.Hour))}, "to": {stamp(now.Add(time.Minute))}}.Encode()
	hb := in.ts.history(t, q)
	if hb.History != "jetstream" {
		t.Errorf("history %q, want jetstream", hb.History)
	}
	checkHistorySeries(t, hb, 0, "n", 0, "raw",
		hp{stamp(a), 1.5, 1.5, 1.5, 1},
		hp{stamp(b), 2.5, 2.5, 2.5, 1})
}

// waitHistory polls the history with rawQuery until want holds of its
// answer, failing after 10 s (summaries are written within a second of
// their readings); a 503 with Retry-After is asked again.
func waitHistory(t testing.TB, ts *testServer, rawQuery, what string, want func(historyBody) bool) historyBody {
	t.Helper()
	var hb historyBody
	testharness.WaitFor(t, 10*time.Second, what, func() bool {
		a := ts.getHistory(t, rawQuery)
		if a.status == http.StatusServiceUnavailable && a.header.Get("Retry-After") != "" {
			return false // the store not answering yet (a cluster settling): ask again
		}
		hb = historyOf(t, rawQuery, a)
		return want(hb)
	})
	return hb
}

// historyCount is how many readings the answer's series count in all.
func historyCount(hb historyBody) int64 {
	var n int64
	for _, s := range hb.Series {
		for _, p := range s.Points {
			n += p.Count
		}
	}
	return n
}

// TestHistoryKill9: the JetStream history loses no summary of an
// acknowledged reading to a kill -9, even one killed before the summaries
// of its last readings were written, and answers the same after the
// restart: the hour buckets of 3 hours of readings, a reading every 10 s
// (1,080), of which the last 360 are posted right before the kill.
func TestHistoryKill9(t *testing.T) {
	t.Parallel()
	args := ingestArgs("--data-dir", t.TempDir(), "--history-age", historyAge)
	first := startInstance(t, "before the kill", args...)
	var rs []ingestReading
	for i := range 1080 {
		at := historyDay.Add(time.Duration(i) * 10 * time.Second)
		rs = append(rs, ingestReading{Sensor: "k", Celsius: float64(i%60) / 4, At: stamp(at)})
	}
	for i := 0; i < 720; i += 120 {
		first.mustPost(t, rs[i:i+120])
	}
	const q = "sensor=k&from=2025-03-01T00:00:00Z&to=2025-03-01T03:00:00Z&points=3"
	waitHistory(t, first.ts, q, "the first 2 hours in the summaries", func(hb historyBody) bool { return historyCount(hb) == 720 })
	for i := 720; i < 1080; i += 120 {
		first.mustPost(t, rs[i:i+120])
	}
	first.ch.Kill(t) // the last 360 were acknowledged; their summaries may not be written yet

	second := startInstance(t, "after the kill", args...)
	hb := waitHistory(t, second.ts, q, "every acknowledged reading in the summaries", func(hb historyBody) bool { return historyCount(hb) >= 1080 })
	var want []hp
	for h := range 3 {
		want = append(want, hp{fmt.Sprintf("2025-03-01T0%d:00:00.000Z", h), 0, 7.375, 14.75, 360})
	}
	checkHistorySeries(t, hb, 0, "k", 3600, "hour", want...)
}

// TestHistoryAgeFlag: --history-age must be from a minute to 100 years.
func TestHistoryAgeFlag(t *testing.T) {
	checkConfigErrors(t, []configCase{
		{"zero", []string{"--history-age", "0"}, nil, []string{"--history-age", "TEMPSTREAM_HISTORY_AGE"}},
		{"under a minute", []string{"--history-age", "59s"}, nil, []string{"--history-age", "59s"}},
		{"negative", []string{"--history-age", "-1h"}, nil, []string{"--history-age"}},
		{"over 100 years", []string{"--history-age", "876001h"}, nil, []string{"--history-age"}},
		{"not a duration", []string{"--history-age", "30d"}, nil, []string{"history-age"}},
		{"env", nil, map[string]string{"TEMPSTREAM_HISTORY_AGE": "month"}, []string{"TEMPSTREAM_HISTORY_AGE", "--history-age"}},
	})
}

// TestHistoryCluster: two instances on a 3-node NATS cluster (replicas 3)
// answer the same history, every reading counted once, whichever instance
// took the readings.
func TestHistoryCluster(t *testing.T) {
	t.Parallel()
	cl := startNATSCluster(t, 3)
	args := ingestArgs("--nats-url", cl.urls(), "--nats-replicas", "3", "--history-age", historyAge)
	a := startInstance(t, "tempstream1", args...)
	b := startInstance(t, "tempstream2", args...)
	var rs []ingestReading
	for i := range 720 { // 2 hours, a reading every 10 s
		at := historyDay.Add(time.Duration(i) * 10 * time.Second)
		rs = append(rs, ingestReading{Sensor: "c", Celsius: float64(i % 6), At: stamp(at)}) // 30 cycles of 0…5 in each half hour
	}
	for i := 0; i < len(rs); i += 120 {
		in := []*instance{a, b}[i/120%2] // each instance takes half of the batches
		in.mustPost(t, rs[i:i+120])
	}
	const q = "sensor=c&from=2025-03-01T00:00:00Z&to=2025-03-01T02:00:00Z&points=4"
	want := []hp{
		{"2025-03-01T00:00:00.000Z", 0, 2.5, 5, 180},
		{"2025-03-01T00:30:00.000Z", 0, 2.5, 5, 180},
		{"2025-03-01T01:00:00.000Z", 0, 2.5, 5, 180},
		{"2025-03-01T01:30:00.000Z", 0, 2.5, 5, 180},
	}
	for _, in := range []*instance{a, b} {
		hb := waitHistory(t, in.ts, q, in.name+": every reading in the summaries", func(hb historyBody) bool { return historyCount(hb) >= 720 })
		checkHistorySeries(t, hb, 0, "c", 1800, "minute", want...)
	}
}
