package main

import (
	"bytes"
	"encoding/xml"
	"io"
	"strings"
	"testing"
	"time"
)

func TestHistIndexIsMonotonicAndPrecise(t *testing.T) {
	prev := -1
	for v := uint64(0); v < 1<<22; v += 1 + v/97 {
		i := histIndex(v)
		if i < prev {
			t.Fatalf("index(%d) = %d < previous %d", v, i, prev)
		}
		prev = i
		got := histValue(i)
		if v < histLinear && got != v {
			t.Fatalf("value(index(%d)) = %d, want exact", v, got)
		}
		if v >= histLinear {
			if err := float64(got) - float64(v); err > float64(v)/64 || -err > float64(v)/64 {
				t.Fatalf("value(index(%d)) = %d: off by more than 1/64", v, got)
			}
		}
	}
	if i := histIndex(1 << 62); i != histBuckets-1 {
		t.Fatalf("huge value in bucket %d, want the last", i)
	}
}

func TestHistogramQuantiles(t *testing.T) {
	var h Histogram
	for v := 1; v <= 1000; v++ { // 1..1000 ms
		h.Record(time.Duration(v) * time.Millisecond)
	}
	h.Record(-time.Second) // counts as 0
	s := h.Snapshot(false)
	if s.N != 1001 {
		t.Fatalf("N = %d", s.N)
	}
	for _, c := range []struct {
		q    float64
		want time.Duration
	}{{0.5, 500 * time.Millisecond}, {0.9, 900 * time.Millisecond}, {0.99, 990 * time.Millisecond}, {1, 1000 * time.Millisecond}} {
		got := s.Quantile(c.q)
		if d := got - c.want; d > c.want/60 || -d > c.want/60 {
			t.Errorf("q%.2f = %v, want %v ± 1.6%%", c.q, got, c.want)
		}
	}
	if s.Quantile(1) != time.Second {
		t.Errorf("max = %v, want exactly 1s", s.Quantile(1))
	}
	// reset: every sample lands in one snapshot
	r := h.Snapshot(true)
	if r.N != 1001 || h.Snapshot(false).N != 0 || h.Snapshot(false).MaxUS != 0 {
		t.Fatalf("reset snapshot N=%d, after: %d", r.N, h.Snapshot(false).N)
	}
	back := FromSparse(r.Sparse(), r.MaxUS)
	if back.N != r.N || back.Quantile(0.99) != r.Quantile(0.99) {
		t.Fatalf("sparse round trip: %d/%v vs %d/%v", back.N, back.Quantile(0.99), r.N, r.Quantile(0.99))
	}
	var empty HistSnapshot
	if empty.Quantile(0.5) != 0 {
		t.Fatal("empty quantile not 0")
	}
}

func TestParseAt(t *testing.T) {
	for _, s := range []string{"2026-11-26T03:20:16.103Z", "1970-01-01T00:00:00.000Z", "2000-02-29T23:59:59.999Z", "1999-12-31T00:00:00.001Z", "2100-03-01T12:00:00.500Z"} {
		want, _ := time.Parse(time.RFC3339Nano, s)
		got, ok := parseAt([]byte(`{"data":"25.00","celsius":25,"sensor":"sim-1","at":"` + s + `"}`))
		if !ok || got != want.UnixMilli() {
			t.Errorf("%s: got %d %v, want %d", s, got, ok, want.UnixMilli())
		}
	}
	// other RFC 3339 forms go through time.Parse
	got, ok := parseAt([]byte(`{"at":"2026-11-26T04:20:16.1+01:00"}`))
	if want, _ := time.Parse(time.RFC3339Nano, "2026-11-26T03:20:16.100Z"); !ok || got != want.UnixMilli() {
		t.Errorf("offset form: %d %v", got, ok)
	}
	for _, bad := range []string{`{"data":"1"}`, `{"at":"yesterday"}`, `{"at":"2026-13-01T00:00:00.000Z"}`, `{"at":"2026`} {
		if _, ok := parseAt([]byte(bad)); ok {
			t.Errorf("%s: parsed", bad)
		}
	}
}

func TestSplitID(t *testing.T) {
	for _, c := range []struct {
		id     string
		prefix string
		seq    uint64
		ok     bool
	}{{"mwwzijh2-3", "mwwzijh2-", 3, true}, {"17", "", 17, true}, {"abc", "abc", 0, false}, {"e-0012", "e-", 12, true}} {
		p, s, ok := splitID([]byte(c.id))
		if string(p) != c.prefix || s != c.seq || ok != c.ok {
			t.Errorf("%s: %q %d %v", c.id, p, s, ok)
		}
	}
}

func TestIDTrackerCountsGapsRepeatsAndEpochs(t *testing.T) {
	var tr idTracker
	for _, id := range []string{"a-1", "a-2", "a-5", "a-5", "a-3", "a-6", "", "b-1", "b-2", "opaque", "b-3"} {
		tr.See([]byte(id))
	}
	if tr.Lost != 2 || tr.Dup != 2 || tr.Epochs != 1 || tr.Opaque != 1 || string(tr.LastRaw) != "b-3" {
		t.Fatalf("lost %d dup %d epochs %d opaque %d last %q", tr.Lost, tr.Dup, tr.Epochs, tr.Opaque, tr.LastRaw)
	}
}

func TestProcParsing(t *testing.T) {
	stat := []byte("1234 (a (weird) name) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 75 0 0 20 0 12 0 5000 100000 2000 18446744073709551615\n")
	cpu, err := parseStatCPU(stat)
	if err != nil || cpu != 3250*time.Millisecond {
		t.Fatalf("cpu = %v, %v; want 3.25s", cpu, err)
	}
	rss, th := parseStatus([]byte("Name:\tx\nVmRSS:\t   20480 kB\nThreads:\t7\n"))
	if rss != 20480*1024 || th != 7 {
		t.Fatalf("rss %d threads %d", rss, th)
	}
	self, err := readProc(0)
	if err != nil || self.RSS <= 0 || self.Threads < 1 {
		t.Fatalf("readProc(self) = %+v, %v", self, err)
	}
}

func TestSVGIsWellFormed(t *testing.T) {
	res := &Results{Label: "a <b>", URL: "http://127.0.0.1/e", N: 3}
	for i := range 5 {
		res.Series = append(res.Series, Point{T: float64(i + 1), Connected: int64(i), Samples: 10, P50: 1 + float64(i), P90: 2 + float64(i), P99: 30 * float64(i+1)})
	}
	var b bytes.Buffer
	writeSVG(&b, res)
	d := xml.NewDecoder(&b)
	for {
		if _, err := d.Token(); err == io.EOF {
			break
		} else if err != nil {
			t.Fatalf("SVG: %v", err)
		}
	}
	var empty bytes.Buffer
	writeSVG(&empty, &Results{})
	if !strings.Contains(empty.String(), "</svg>") {
		t.Fatal("empty run: no SVG")
	}
}

func TestCompareTable(t *testing.T) {
	var b bytes.Buffer
	writeCompare(&b, []*Results{{Label: "floor", EventsPerSec: 100, Latency: Quantiles{P99: 10}, ServerCPUPct: 20}, {Label: "x", EventsPerSec: 90, Latency: Quantiles{P99: 12}, ServerCPUPct: 30}})
	for _, want := range []string{"| floor |", "90 (0.90×)", "12.00 (1.20×)", "30.0 (1.50×)"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, b.String())
		}
	}
}

func TestFlagsAndLimits(t *testing.T) {
	for _, args := range [][]string{{"-ramp", "x"}, {"-shard", "2/2"}, {"-n", "0"}, {"-parser", "slow"}, {"-stall-fraction", "1"}, {"-url", "http://10.0.0.1/e"}, {"-url", "https://127.0.0.1/e"}} {
		if err := run(t.Context(), args, io.Discard, io.Discard); err == nil {
			t.Errorf("%v: no error", args)
		}
	}
	// more subscribers than open files: refused with advice, before dialing
	err := run(t.Context(), []string{"-url", "http://127.0.0.1:1/e", "-n", "10000000"}, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "--shard") {
		t.Fatalf("err = %v, want advice to shard", err)
	}
	c, err := parseFlags([]string{"-n", "19000", "-ramp", "250/s", "-shard", "1/3"}, io.Discard)
	if err != nil || c.Ramp != 250 || c.Shard != 1 || c.Shards != 3 || c.Sources != 2 {
		t.Fatalf("%+v %v", c, err)
	}
	tg, spread, err := parseTarget("http://localhost:5000/events?stream=t", false)
	if err != nil || !spread || tg.hostport != "127.0.0.1:5000" || tg.path != "/events?stream=t" {
		t.Fatalf("%+v %v %v", tg, spread, err)
	}
	if got := string(tg.request([]byte("e-1"))); got != "GET /events?stream=t HTTP/1.1\r\nHost: localhost:5000\r\nAccept: text/event-stream\r\nCache-Control: no-cache\r\nUser-Agent: ssebench\r\nLast-Event-ID: e-1\r\n\r\n" {
		t.Fatalf("request %q", got)
	}
}
