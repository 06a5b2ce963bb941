// Command history measures the JetStream history store (pkg/history) on an
// embedded JetStream server: writing a week of readings straight into the
// readings stream, building the summaries from them, and, after a restart,
// how soon the store is ready, how fast it answers and how much memory the
// process holds. Each phase is a process of its own, so its memory is its
// own:
//
//	go run ./bench/history -dir /tmp/hbench -days 7 -sensors 10 write
//	go run ./bench/history -dir /tmp/hbench build
//	go run ./bench/history -dir /tmp/hbench query
//	go run ./bench/history -dir /tmp/hbench-empty query   # the same with nothing stored
//	go run ./bench/history -dir /tmp/hbench purge         # keep 24 h of readings, as --max-age does
//	go run ./bench/history -dir /tmp/hbench -days 0.0417 write   # an hour more, not yet summarised
//	go run ./bench/history -dir /tmp/hbench query         # a restart that catches up
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"log"
	"math/rand/v2"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"slices"
	"strconv"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/tempstream/tempstream/pkg/history"
	"github.com/tempstream/tempstream/pkg/reading"
)

// profile and heapProfile are where query writes a CPU profile and a heap
// profile ("": none).
var profile, heapProfile string

const (
	stream  = "TEMPSTREAM"
	subject = "tempstream.temperature"
)

func main() {
	dir := flag.String("dir", "/tmp/hbench", "JetStream directory")
	days := flag.Float64("days", 7, "days of readings to write")
	sensors := flag.Int("sensors", 10, "sensors, one reading a second each")
	queries := flag.Int("queries", 100, "queries of each kind")
	keep := flag.Uint64("keep", 864_000, "purge: readings kept (the newest)")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the queries here")
	memProfile := flag.String("memprofile", "", "write a heap profile after the queries here")
	flag.Parse()
	profile, heapProfile = *cpuProfile, *memProfile
	start := time.Now()
	ns, nc, js := open(*dir)
	ready := time.Since(start)
	defer func() {
		nc.Close()
		ns.Shutdown()
		ns.WaitForShutdown()
	}()
	switch flag.Arg(0) {
	case "write":
		write(js, *days, *sensors)
	case "build":
		build(js)
	case "query":
		query(js, ready, start, *sensors, *queries)
	case "purge":
		purge(js, *keep)
	default:
		log.Fatalf("usage: history [flags] write|build|query|purge")
	}
}

// open starts the embedded server on dir and connects to it in-process.
func open(dir string) (*server.Server, *nats.Conn, jetstream.JetStream) {
	ns, err := server.NewServer(&server.Options{
		ServerName: "history-bench", JetStream: true, StoreDir: dir,
		NoSigs: true, NoLog: true, DontListen: true,
	})
	if err != nil {
		log.Fatal(err)
	}
	ns.Start()
	if !ns.ReadyForConnections(time.Minute) {
		log.Fatal("server not ready")
	}
	nc, err := nats.Connect(ns.ClientURL(), nats.InProcessServer(ns))
	if err != nil {
		log.Fatal(err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		log.Fatal(err)
	}
	return ns, nc, js
}

// write publishes days of readings of sensors (one a second each, ending
// now) into the readings stream, created as natsjs creates it but with no
// message limit.
func write(js jetstream.JetStream, days float64, sensors int) {
	ctx := context.Background()
	st, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name: stream, Subjects: []string{subject + ".>"}, Storage: jetstream.FileStorage,
		Replicas: 1, MaxMsgs: -1, MaxAge: 24 * time.Hour, Duplicates: 2 * time.Minute,
		Discard: jetstream.DiscardOld, AllowAtomicPublish: true,
	})
	if err != nil {
		log.Fatal(err)
	}
	before := st.CachedInfo().State.Msgs
	seconds := int(days * 86400)
	end := time.Now().Truncate(time.Second)
	rng := rand.New(rand.NewPCG(7, 7))
	celsius := make([]float64, sensors)
	subjects := make([]string, sensors)
	for i := range celsius {
		celsius[i] = 20 + rng.Float64()*10
		subjects[i] = subject + ".sensor-" + strconv.Itoa(i+1)
	}
	t0 := time.Now()
	for sec := range seconds {
		at := end.Add(time.Duration(sec-seconds) * time.Second)
		for i := range sensors {
			celsius[i] = min(30, max(20, celsius[i]+rng.NormFloat64()*0.05))
			data, err := reading.New("sensor-"+strconv.Itoa(i+1), celsius[i], at).MarshalData()
			if err != nil {
				log.Fatal(err)
			}
			// Acknowledged publishes: plain ones outrun the stream, which
			// then drops some.
			if _, err := js.PublishAsync(subjects[i], data); err != nil {
				log.Fatal(err)
			}
		}
		if sec%86400 == 86399 {
			log.Printf("written %d days (%.0f readings/s)", (sec+1)/86400, float64((sec+1)*sensors)/time.Since(t0).Seconds())
		}
	}
	select {
	case <-js.PublishAsyncComplete():
	case <-time.After(time.Minute):
		log.Fatal("publishes not acknowledged within a minute")
	}
	info, err := st.Info(ctx)
	if err != nil {
		log.Fatal(err)
	}
	if want := before + uint64(seconds*sensors); info.State.Msgs != want {
		log.Fatalf("stored %d readings, want %d", info.State.Msgs, want)
	}
	d := time.Since(t0)
	fmt.Printf("write: %d readings (%g days x %d sensors) in %v: %.0f readings/s\n",
		seconds*sensors, days, sensors, d.Round(time.Millisecond), float64(seconds*sensors)/d.Seconds())
}

// build opens the store and waits until it has summarised the whole
// readings stream.
func build(js jetstream.JetStream) {
	ctx := context.Background()
	st, err := js.Stream(ctx, stream)
	if err != nil {
		log.Fatal(err)
	}
	last := st.CachedInfo().State.LastSeq
	t0 := time.Now()
	s, err := history.OpenJetStream(ctx, js, history.JetStreamOptions{})
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	from := s.Synced()
	tick := time.NewTicker(10 * time.Second)
	defer tick.Stop()
	for s.Synced() < last {
		select {
		case <-tick.C:
			log.Printf("built up to %d of %d (%.0f readings/s)", s.Synced(), last, float64(s.Synced()-from)/time.Since(t0).Seconds())
		case <-time.After(20 * time.Millisecond):
		}
	}
	d := time.Since(t0)
	fmt.Printf("build: %d readings summarised in %v: %.0f readings/s; %s\n",
		last-from, d.Round(time.Millisecond), float64(last-from)/d.Seconds(), memory())
	hs, err := js.Stream(ctx, "TEMPSTREAM_HISTORY")
	if err == nil {
		i := hs.CachedInfo().State
		fmt.Printf("history stream: %d messages, %d bytes\n", i.Msgs, i.Bytes)
	}
}

// query measures a restart: the store ready, its first answer, and the
// p50/p99 of the 24 h by minute and 30 d by hour queries of one sensor.
func query(js jetstream.JetStream, serverReady time.Duration, start time.Time, sensors, n int) {
	ctx := context.Background()
	s, err := history.OpenJetStream(ctx, js, history.JetStreamOptions{})
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	opened := time.Since(start)
	now := time.Now()
	first, err := s.Summaries(ctx, "sensor-1", history.Minute, now.Add(-24*time.Hour), now)
	if err != nil {
		log.Fatal(err)
	}
	answered := time.Since(start)
	fmt.Printf("restart: server ready %v, store open %v, first answer (%d buckets) %v\n",
		serverReady.Round(time.Millisecond), opened.Round(time.Millisecond), len(first), answered.Round(time.Millisecond))
	if st, err := js.Stream(ctx, stream); err == nil {
		last := st.CachedInfo().State.LastSeq
		t0 := time.Now()
		for s.Synced() < last && time.Since(t0) < time.Minute {
			time.Sleep(time.Millisecond)
		}
		fmt.Printf("caught up with the readings stream (%d) %v after opening\n", last, time.Since(t0).Round(time.Millisecond))
	}
	if profile != "" {
		f, err := os.Create(profile)
		if err != nil {
			log.Fatal(err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			log.Fatal(err)
		}
		defer pprof.StopCPUProfile()
	}
	rng := rand.New(rand.NewPCG(1, 1))
	for _, q := range []struct {
		name string
		g    history.Granularity
		span time.Duration
	}{
		{"24 h by minute", history.Minute, 24 * time.Hour},
		{"30 d by hour", history.Hour, 30 * 24 * time.Hour},
	} {
		var durs []time.Duration
		buckets := 0
		for range n {
			sensor := "sensor-" + strconv.Itoa(1+rng.IntN(sensors))
			t0 := time.Now()
			bs, err := s.Summaries(ctx, sensor, q.g, now.Add(-q.span), now)
			durs = append(durs, time.Since(t0))
			if err != nil {
				log.Fatal(err)
			}
			buckets = len(bs)
		}
		slices.Sort(durs)
		fmt.Printf("%s: %d buckets; p50 %v, p99 %v, max %v over %d queries\n", q.name, buckets,
			durs[len(durs)/2].Round(time.Microsecond), durs[len(durs)*99/100].Round(time.Microsecond),
			durs[len(durs)-1].Round(time.Microsecond), n)
	}
	fmt.Println("after the queries:", memory())
	if heapProfile != "" {
		f, err := os.Create(heapProfile)
		if err != nil {
			log.Fatal(err)
		}
		defer f.Close()
		if err := pprof.WriteHeapProfile(f); err != nil {
			log.Fatal(err)
		}
	}
}

// purge drops all but the newest keep readings from the readings stream, as
// its --max-age would in production (24 h: 864,000 readings of 10 sensors).
func purge(js jetstream.JetStream, keep uint64) {
	ctx := context.Background()
	st, err := js.Stream(ctx, stream)
	if err != nil {
		log.Fatal(err)
	}
	if err := st.Purge(ctx, jetstream.WithPurgeKeep(keep)); err != nil {
		log.Fatal(err)
	}
	info, err := st.Info(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("purge: the readings stream keeps %d readings\n", info.State.Msgs)
}

// memory reads the process's resident memory and the Go heap.
func memory() string {
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	status, _ := os.ReadFile("/proc/self/status")
	field := func(name string) string {
		for line := range bytes.Lines(status) {
			if v, ok := bytes.CutPrefix(line, []byte(name+":")); ok {
				return string(bytes.TrimSpace(v))
			}
		}
		return "?"
	}
	rss := field("VmRSS")
	// Twice more: sync.Pool's buffers (the server's) outlive one GC; then
	// what is live, returned to the OS.
	debug.FreeOSMemory()
	debug.FreeOSMemory()
	status, _ = os.ReadFile("/proc/self/status")
	var live runtime.MemStats
	runtime.ReadMemStats(&live)
	return fmt.Sprintf("RSS %s (peak %s), Go heap in use %.1f MiB; after freeing pools and returning free memory: RSS %s, heap %.1f MiB",
		rss, field("VmHWM"), float64(ms.HeapInuse)/(1<<20), field("VmRSS"), float64(live.HeapInuse)/(1<<20))
}
