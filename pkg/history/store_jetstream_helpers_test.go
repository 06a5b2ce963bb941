package history

// Helpers of the JetStream store's tests and benchmarks: a JetStream server
// embedded in the test process, the readings stream as natsjs creates it,
// readings published straight into it in natsjs's format, and the
// summaries those readings should give.

import (
	"context"
	"fmt"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/tempstream/tempstream/pkg/reading"
)

// Names as natsjs uses them.
const (
	testStream  = "TEMPSTREAM"
	testSubject = "tempstream.temperature"
)

// jsServer is a JetStream server in the test process, storing under dir.
type jsServer struct {
	ns  *server.Server
	dir string
}

// startJS starts a JetStream server storing under dir (a new temporary one
// when empty), shut down when the test ends.
func startJS(tb testing.TB, dir string) *jsServer {
	tb.Helper()
	if dir == "" {
		dir = tb.TempDir()
	}
	ns, err := server.NewServer(&server.Options{
		ServerName: "history-test",
		JetStream:  true,
		StoreDir:   dir,
		NoSigs:     true,
		NoLog:      true,
		DontListen: true,
	})
	if err != nil {
		tb.Fatal(err)
	}
	ns.Start()
	if !ns.ReadyForConnections(30 * time.Second) {
		ns.Shutdown()
		tb.Fatal("jetstream server not ready within 30s")
	}
	s := &jsServer{ns: ns, dir: dir}
	tb.Cleanup(s.shutdown)
	return s
}

func (s *jsServer) shutdown() {
	s.ns.Shutdown()
	s.ns.WaitForShutdown()
}

// conn opens a connection of its own (an "instance"), closed when the test
// ends.
func (s *jsServer) conn(tb testing.TB) (*nats.Conn, jetstream.JetStream) {
	tb.Helper()
	nc, err := nats.Connect(s.ns.ClientURL(), nats.InProcessServer(s.ns))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		tb.Fatal(err)
	}
	return nc, js
}

// createReadings creates the readings stream as natsjs.Open does
// (pkg/natsjs/store.go, follow), bounded by maxMsgs (0: none).
func createReadings(tb testing.TB, js jetstream.JetStream, maxMsgs int64) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if maxMsgs == 0 {
		maxMsgs = -1
	}
	_, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:               testStream,
		Subjects:           []string{testSubject + ".>"},
		Storage:            jetstream.FileStorage,
		Replicas:           1,
		MaxMsgs:            maxMsgs,
		MaxAge:             24 * time.Hour,
		Duplicates:         2 * time.Minute,
		Discard:            jetstream.DiscardOld,
		AllowAtomicPublish: true,
	})
	if err != nil {
		tb.Fatal(err)
	}
}

// publish stores rs in the readings stream as natsjs does (subject
// <prefix>.<sensor>, the reading's JSON as data) and returns the last
// sequence number.
func publish(tb testing.TB, js jetstream.JetStream, rs []reading.Reading) uint64 {
	tb.Helper()
	futs := make([]jetstream.PubAckFuture, 0, len(rs))
	for _, r := range rs {
		data, err := r.MarshalData()
		if err != nil {
			tb.Fatal(err)
		}
		f, err := js.PublishAsync(testSubject+"."+r.Sensor, data)
		if err != nil {
			tb.Fatal(err)
		}
		futs = append(futs, f)
	}
	var last uint64
	for _, f := range futs {
		select {
		case ack := <-f.Ok():
			last = max(last, ack.Sequence)
		case err := <-f.Err():
			tb.Fatal(err)
		case <-time.After(10 * time.Second):
			tb.Fatal("no acknowledgement")
		}
	}
	return last
}

// openTestStore opens a store on js, closed when the test ends.
func openTestStore(tb testing.TB, js jetstream.JetStream, o JetStreamOptions, set func(*JetStreamStore)) *JetStreamStore {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := openJetStream(ctx, js, o, set)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(s.Close)
	return s
}

// waitSynced waits until every reading up to seq is in s's stored
// summaries.
func waitSynced(tb testing.TB, s *JetStreamStore, seq uint64, timeout time.Duration) {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	for s.Synced() < seq {
		if time.Now().After(deadline) {
			tb.Fatalf("synced up to %d (position %d) of %d after %v", s.Synced(), s.Position(), seq, timeout)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// expected computes the summaries of rs: sensor → granularity → buckets,
// oldest first.
func expected(rs []reading.Reading) map[string]map[Granularity][]Bucket {
	type key struct {
		sensor string
		g      Granularity
		start  int64
	}
	acc := map[key]*Bucket{}
	for _, r := range rs {
		at, err := time.Parse(time.RFC3339Nano, r.At)
		if err != nil {
			panic(err)
		}
		for _, g := range []Granularity{Minute, Hour} {
			start := at.Truncate(time.Duration(g))
			k := key{r.Sensor, g, start.Unix()}
			b := acc[k]
			if b == nil {
				b = &Bucket{Start: start.UTC(), Min: r.Celsius, Max: r.Celsius}
				acc[k] = b
			}
			b.Min, b.Max = min(b.Min, r.Celsius), max(b.Max, r.Celsius)
			b.Sum += r.Celsius
			b.Count++
		}
	}
	out := map[string]map[Granularity][]Bucket{}
	for k, b := range acc {
		if out[k.sensor] == nil {
			out[k.sensor] = map[Granularity][]Bucket{}
		}
		out[k.sensor][k.g] = append(out[k.sensor][k.g], *b)
	}
	for _, m := range out {
		for _, bs := range m {
			slices.SortFunc(bs, func(a, b Bucket) int { return a.Start.Compare(b.Start) })
		}
	}
	return out
}

// sameBuckets says how got differs from want ("" if it does not); sums are
// compared to 1e-9.
func sameBuckets(got, want []Bucket) string {
	if len(got) != len(want) {
		return fmt.Sprintf("%d buckets, want %d:\ngot  %v\nwant %v", len(got), len(want), got, want)
	}
	for i := range got {
		g, w := got[i], want[i]
		if !g.Start.Equal(w.Start) || g.Min != w.Min || g.Max != w.Max || g.Count != w.Count || math.Abs(g.Sum-w.Sum) > 1e-9 {
			return fmt.Sprintf("bucket %d: got %+v, want %+v", i, g, w)
		}
	}
	return ""
}

// checkAll compares every sensor's summaries in s over [from, to) with
// want.
func checkAll(tb testing.TB, s Store, want map[string]map[Granularity][]Bucket, from, to time.Time) {
	tb.Helper()
	for sensor, byG := range want {
		for _, g := range []Granularity{Minute, Hour} {
			got, err := s.Summaries(context.Background(), sensor, g, from, to)
			if err != nil {
				tb.Fatal(err)
			}
			if diff := sameBuckets(got, byG[g]); diff != "" {
				tb.Errorf("%s by %v: %s", sensor, time.Duration(g), diff)
			}
		}
	}
}
