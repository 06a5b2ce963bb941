package history

import (
	"context"
	"math/rand/v2"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/tempstream/tempstream/pkg/natsjs"
	"github.com/tempstream/tempstream/pkg/reading"
	"github.com/tempstream/tempstream/pkg/sse"
)

var fast = JetStreamOptions{FlushEvery: 20 * time.Millisecond}

func TestJetStreamSummariesByHand(t *testing.T) {
	srv := startJS(t, "")
	_, js := srv.conn(t)
	createReadings(t, js, 0)
	base := time.Now().UTC().Truncate(time.Hour).Add(-3 * time.Hour) // hh:00:00, three hours ago
	at := func(d string) time.Time {
		off, err := time.ParseDuration(d)
		if err != nil {
			t.Fatal(err)
		}
		return base.Add(off)
	}
	last := publish(t, js, []reading.Reading{
		reading.New("lab-1", 21.5, at("10s")),
		reading.New("lab-2", 30, at("20s")), // another sensor, same minute
		reading.New("lab-1", 22.5, at("50s")),
		reading.New("lab-1", 20, at("1m5s")),
		reading.New("lab.1", 99, at("1m6s")), // a sensor with a dot: its own buckets
		reading.New("lab-1", 25.25, at("1h30m")),
		reading.New("lab-1", 19.75, at("59m59.999s")),
	})
	s := openTestStore(t, js, fast, nil)
	waitSynced(t, s, last, 10*time.Second)
	if s.Kind() != "jetstream" {
		t.Fatalf("Kind = %q", s.Kind())
	}
	b := func(start string, lo, hi, sum float64, n int64) Bucket {
		return Bucket{Start: at(start), Min: lo, Max: hi, Sum: sum, Count: n}
	}
	checkAll(t, s, map[string]map[Granularity][]Bucket{
		"lab-1": {
			Minute: {b("0s", 21.5, 22.5, 44, 2), b("1m", 20, 20, 20, 1), b("59m", 19.75, 19.75, 19.75, 1), b("1h30m", 25.25, 25.25, 25.25, 1)},
			Hour:   {b("0s", 19.75, 22.5, 83.75, 4), b("1h", 25.25, 25.25, 25.25, 1)},
		},
		"lab-2": {Minute: {b("0s", 30, 30, 30, 1)}, Hour: {b("0s", 30, 30, 30, 1)}},
		"lab.1": {Minute: {b("1m", 99, 99, 99, 1)}, Hour: {b("0s", 99, 99, 99, 1)}},
	}, base.Add(-time.Hour), base.Add(3*time.Hour))

	// A range starts at the first bucket starting in it.
	got, err := s.Summaries(context.Background(), "lab-1", Minute, at("30s"), at("59m"))
	if err != nil || sameBuckets(got, []Bucket{b("1m", 20, 20, 20, 1)}) != "" {
		t.Fatalf("[0:30, 59:00) by minute: %v, %v", got, err)
	}
	if got, err := s.Summaries(context.Background(), "nobody", Hour, base, at("2h")); err != nil || len(got) != 0 {
		t.Fatalf("unknown sensor: %v, %v", got, err)
	}
	if got, err := s.Summaries(context.Background(), "lab-*", Hour, base, at("2h")); err != nil || len(got) != 0 {
		t.Fatalf("wildcard sensor: %v, %v", got, err)
	}
	s.Close()
	if _, err := s.Summaries(context.Background(), "lab-1", Hour, base, at("2h")); err != ErrClosed {
		t.Fatalf("after Close: %v", err)
	}
	if _, _, err := s.Raw(context.Background(), "lab-1", base, at("2h"), 10); err != ErrClosed {
		t.Fatalf("Raw after Close: %v", err)
	}
}

// randomReadings returns n readings of sensors at random times in the
// hours before now, with values in hundredths.
func randomReadings(rng *rand.Rand, n int, sensors []string, hours int) []reading.Reading {
	now := time.Now()
	rs := make([]reading.Reading, n)
	for i := range rs {
		at := now.Add(-time.Duration(rng.Int64N(int64(hours) * int64(time.Hour))))
		rs[i] = reading.New(sensors[rng.IntN(len(sensors))], float64(rng.IntN(3000))/100, at)
	}
	return rs
}

// A store whose connection drops in the middle of a flush (the process
// killed) loses and double-counts nothing once a store is opened again: at
// several points of the flush, with readings also in buckets already stored.
func TestJetStreamCrashMidFlushLosesAndDoubleCountsNothing(t *testing.T) {
	for _, tc := range []struct {
		name             string
		afterWrite       func(total int) int // crash after sending this many block writes
		beforeCheckpoint bool
		landed           bool // some of its writes are stored
	}{
		{"after the first block", func(int) int { return 1 }, false, false},
		{"half way", func(total int) int { return total / 2 }, false, true},
		{"before the checkpoint", func(int) int { return -1 }, true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(1, 2))
			srv := startJS(t, "")
			_, js := srv.conn(t)
			createReadings(t, js, 0)
			sensors := []string{"a", "b", "c"}
			all := randomReadings(rng, 500, sensors, 30)
			first := publish(t, js, all)
			a := openTestStore(t, js, fast, nil)
			waitSynced(t, a, first, 10*time.Second)
			a.Close()
			stored := historyLastSeq(t, js)

			// More readings, in the same buckets and others; a second
			// instance crashes while flushing them.
			more := randomReadings(rng, 800, sensors, 30)
			all = append(all, more...)
			last := publish(t, js, more)
			nc2, js2 := srv.conn(t)
			var crashed atomic.Bool
			crash := func() {
				if !crashed.Swap(true) {
					nc2.Close() // the connection drops: nothing more is sent or flushed
				}
			}
			b := openTestStore(t, js2, JetStreamOptions{FlushEvery: time.Hour}, func(s *JetStreamStore) {
				s.f.lastFlush = time.Now() // the first flush comes with maxPending or Close
				s.hookWritten = func(n, total int) {
					if n == tc.afterWrite(total) {
						crash()
					}
				}
				s.hookCheckpoint = func() {
					if tc.beforeCheckpoint {
						crash()
					}
				}
			})
			deadline := time.Now().Add(10 * time.Second)
			for b.Position() < last && time.Now().Before(deadline) {
				time.Sleep(5 * time.Millisecond)
			}
			b.Close() // its last flush crashes
			if !crashed.Load() {
				t.Fatal("the store did not crash")
			}
			if b.Synced() >= last {
				t.Fatalf("the crashed store says it synced up to %d", b.Synced())
			}
			if now := historyLastSeq(t, js); tc.landed && now == stored {
				t.Fatal("none of the crashed store's writes landed: this tests nothing")
			}

			c := openTestStore(t, js, fast, nil)
			waitSynced(t, c, last, 10*time.Second)
			// And readings after the restart.
			later := randomReadings(rng, 200, sensors, 30)
			all = append(all, later...)
			waitSynced(t, c, publish(t, js, later), 10*time.Second)
			now := time.Now()
			checkAll(t, c, expected(all), now.Add(-31*time.Hour), now.Add(time.Hour))
		})
	}
}

func historyLastSeq(tb testing.TB, js jetstream.JetStream) uint64 {
	tb.Helper()
	st, err := js.Stream(context.Background(), "TEMPSTREAM_HISTORY")
	if err != nil {
		tb.Fatal(err)
	}
	return st.CachedInfo().State.LastSeq
}

// Two instances on the same JetStream, following the same readings, answer
// the same, each reading counted once, while readings keep coming.
func TestJetStreamTwoInstancesAnswerTheSame(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	srv := startJS(t, "")
	_, js := srv.conn(t)
	createReadings(t, js, 0)
	_, jsA := srv.conn(t)
	_, jsB := srv.conn(t)
	a := openTestStore(t, jsA, JetStreamOptions{FlushEvery: 10 * time.Millisecond}, nil)
	b := openTestStore(t, jsB, JetStreamOptions{FlushEvery: 13 * time.Millisecond}, nil)
	sensors := []string{"lab-1", "lab-2", "lab-3"}
	var all []reading.Reading
	var last uint64
	for range 40 { // in steps, so both flush often, into the same buckets
		rs := randomReadings(rng, 50, sensors, 2)
		all = append(all, rs...)
		last = publish(t, js, rs)
		time.Sleep(time.Duration(rng.IntN(15)) * time.Millisecond)
	}
	waitSynced(t, a, last, 10*time.Second)
	waitSynced(t, b, last, 10*time.Second)
	// Both have flushed what they held: each has seen the checkpoint at last.
	now := time.Now()
	want := expected(all)
	checkAll(t, a, want, now.Add(-3*time.Hour), now.Add(time.Hour))
	checkAll(t, b, want, now.Add(-3*time.Hour), now.Add(time.Hour))
	for _, sensor := range sensors {
		for _, g := range []Granularity{Minute, Hour} {
			ga, errA := a.Summaries(context.Background(), sensor, g, now.Add(-3*time.Hour), now)
			gb, errB := b.Summaries(context.Background(), sensor, g, now.Add(-3*time.Hour), now)
			if errA != nil || errB != nil || len(ga) != len(gb) {
				t.Fatalf("%s: %v %v", sensor, errA, errB)
			}
			for i := range ga {
				if ga[i] != gb[i] {
					t.Fatalf("%s by %v: %+v and %+v", sensor, time.Duration(g), ga[i], gb[i])
				}
			}
		}
	}
}

// A bucket is answered for HistoryAge past its end, and its block (an hour
// of minutes, a day of hours) is stored until the block's end +
// HistoryAge, however late it was written; a reading whose bucket is past
// HistoryAge is not kept in it.
func TestJetStreamRetentionByHistoryAge(t *testing.T) {
	srv := startJS(t, "")
	_, js := srv.conn(t)
	createReadings(t, js, 0)
	now := time.Now().UTC()
	e := now.Truncate(time.Hour) // the end of the last hour's block of minutes
	if now.Sub(e) < 5*time.Second {
		e = e.Add(-time.Hour)
	}
	age := now.Sub(e) + 3*time.Second // so it expires in about 3 s
	last := publish(t, js, []reading.Reading{
		reading.New("lab-1", 10, e.Add(-45*time.Minute)), // its minute is past HistoryAge, its hour not
		reading.New("lab-1", 11, e.Add(-30*time.Second)),
		reading.New("lab-1", 12, now.Add(-time.Second)),
	})
	s := openTestStore(t, js, JetStreamOptions{FlushEvery: 20 * time.Millisecond, HistoryAge: age}, nil)
	waitSynced(t, s, last, 10*time.Second)
	counts := func(g Granularity) (n []int64) {
		got, err := s.Summaries(context.Background(), "lab-1", g, e.Add(-48*time.Hour), now.Add(time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		for _, b := range got {
			n = append(n, b.Count)
		}
		return n
	}
	stored := func() bool {
		found := false
		err := lastMsgs(context.Background(), s.nc, s.apiPrefix, s.o.HistoryStream,
			[]string{blockSubject(s.o.HistorySubject, Minute, "lab-1", e.Add(-time.Hour))},
			func(string, uint64, []byte) { found = true })
		if err != nil {
			t.Fatal(err)
		}
		return found
	}
	if got := counts(Minute); !slices.Equal(got, []int64{1, 1}) {
		t.Fatalf("minutes at first: %v, want the last two readings", got)
	}
	if got := counts(Hour); !slices.Equal(got, []int64{2, 1}) {
		t.Fatalf("hours at first: %v, want the last hour's two readings, then one", got)
	}
	if !stored() {
		t.Fatal("the last hour's block is not stored")
	}
	deadline := time.Now().Add(10 * time.Second)
	for stored() {
		if time.Now().After(deadline) {
			t.Fatalf("the block ending %v still stored %v past HistoryAge", e, time.Since(e.Add(age)))
		}
		time.Sleep(50 * time.Millisecond)
	}
	if time.Now().Before(e.Add(age)) {
		t.Fatalf("the block ending %v went before its end + HistoryAge", e)
	}
	if got := counts(Minute); !slices.Equal(got, []int64{1}) {
		t.Fatalf("minutes after: %v, want the newest reading's", got)
	}
	if got := counts(Hour); !slices.Equal(got, []int64{1}) {
		t.Fatalf("hours after: %v, want the newest reading's", got)
	}
}

// Raw reads the readings stream; complete says whether it still holds the
// start of the range.
func TestJetStreamRawAndComplete(t *testing.T) {
	srv := startJS(t, "")
	_, js := srv.conn(t)
	createReadings(t, js, 6) // the readings stream keeps 6 readings
	s := openTestStore(t, js, fast, nil)
	ctx := context.Background()
	start := time.Now().UTC()
	if got, complete, err := s.Raw(ctx, "lab-1", start.Add(-time.Hour), start.Add(time.Hour), 10); err != nil || len(got) != 0 || !complete {
		t.Fatalf("empty stream: %v %v %v", got, complete, err)
	}
	var rs []reading.Reading
	for i := range 10 {
		sensor := "lab-1"
		if i%2 == 1 {
			sensor = "lab-2"
		}
		rs = append(rs, reading.New(sensor, float64(i), time.Now()))
		publish(t, js, rs[i:])
		time.Sleep(2 * time.Millisecond)
	}
	// Kept: readings 4…9, lab-1's 4, 6, 8.
	got, complete, err := s.Raw(ctx, "lab-1", start.Add(-time.Hour), start.Add(time.Hour), 10)
	if err != nil || complete || len(got) != 3 || got[0].Celsius != 4 || got[1].Celsius != 6 || got[2].Celsius != 8 {
		t.Fatalf("from before the stream's first message: %+v complete=%v err=%v", got, complete, err)
	}
	if got[0].Sensor != "lab-1" || got[0].Seq != 5 || !got[0].At.Equal(mustTime(t, rs[4].At)) {
		t.Fatalf("sample %+v, want seq 5 of %+v", got[0], rs[4])
	}
	from := mustTime(t, rs[4].At) // reading 4, the first message kept, was stored just after
	st, err := js.Stream(ctx, testStream)
	if err != nil {
		t.Fatal(err)
	}
	first := st.CachedInfo().State.FirstTime
	got, complete, err = s.Raw(ctx, "lab-1", first, start.Add(time.Hour), 2)
	if err != nil || !complete || len(got) != 2 || got[0].Celsius != 6 || got[1].Celsius != 8 {
		t.Fatalf("from the first message's time (%v; reading 4 taken %v), limit 2: %+v complete=%v err=%v", first, from, got, complete, err)
	}
	got, _, err = s.Raw(ctx, "lab-1", mustTime(t, rs[6].At), mustTime(t, rs[8].At), 10)
	if err != nil || len(got) != 1 || got[0].Celsius != 6 {
		t.Fatalf("[6, 8): %+v %v", got, err)
	}
}

func mustTime(tb testing.TB, s string) time.Time {
	tb.Helper()
	at, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		tb.Fatal(err)
	}
	return at
}

// With natsjs's own store: readings published through it reach the
// summaries, through the handle and names of history_hooks.go.
func TestJetStreamFollowsNatsjsStore(t *testing.T) {
	target := sse.NewStream("temperature", sse.StreamOptions{Retention: 100, FedByLog: true})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ns, err := natsjs.Open(ctx, target, natsjs.Options{DataDir: t.TempDir(), EventType: reading.EventType})
	if err != nil {
		t.Fatal(err)
	}
	defer ns.Close()
	s, err := OpenJetStream(ctx, ns.JetStream(), JetStreamOptions{Stream: ns.StreamName(), Subject: ns.Subject(), FlushEvery: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	at := time.Now().UTC().Truncate(time.Minute)
	rs := []reading.Reading{reading.New("lab-1", 21.5, at), reading.New("lab-1", 22.5, at.Add(time.Second))}
	msgs := make([]sse.Message, len(rs))
	for i, r := range rs {
		data, _ := r.MarshalData()
		msgs[i] = sse.Message{Type: reading.EventType, Key: r.Sensor, Data: data}
	}
	if _, err := ns.Publish(ctx, msgs); err != nil {
		t.Fatal(err)
	}
	waitSynced(t, s, 2, 10*time.Second)
	got, err := s.Summaries(ctx, "lab-1", Minute, at, at.Add(time.Minute))
	if err != nil || sameBuckets(got, []Bucket{{Start: at, Min: 21.5, Max: 22.5, Sum: 44, Count: 2}}) != "" {
		t.Fatalf("%v %v", got, err)
	}
}

func TestParseReading(t *testing.T) {
	for _, tc := range []struct {
		data string
		c    float64
		at   string
		ok   bool
	}{
		{`{"data":"21.50","celsius":21.5,"sensor":"lab-1","at":"2026-11-26T03:20:16.103Z"}`, 21.5, "2026-11-26T03:20:16.103Z", true},
		{`{"at":"2026-11-26T03:20:16Z", "celsius" : -3}`, -3, "2026-11-26T03:20:16Z", true}, // through encoding/json
		{`{"celsius":1e2}`, 100, "", true},
		{`{"data":"x"}`, 0, "", false},
		{`not json`, 0, "", false},
	} {
		c, at, ok := parseReading([]byte(tc.data))
		var want time.Time
		if tc.at != "" {
			want = mustTime(t, tc.at)
		}
		if ok != tc.ok || c != tc.c || !at.Equal(want) {
			t.Errorf("%s: %v %v %v", tc.data, c, at, ok)
		}
	}
}
