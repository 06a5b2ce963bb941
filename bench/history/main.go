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

// profile is where query writes a CPU profile ("": none).
var profile string

const (
	stream  = "TEMPSTREAM"
	subject = "tempstream.temperature"
)

func main() {
	dir := flag.String("dir", "/tmp/hbench", "JetStream directory")
	days := flag.Float64("days", 7, "days of readings to write")
	sensors := flag.Int("sensors", 10, "sensors, one reading a second each")
	queries := flag.Int("queries", 100, "queries of each kind")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the queries here")
	flag.Parse()
	profile = *cpuProfile
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
		write(js, nc, *days, *sensors)
	case "build":
		build(js)
	case "query":
		query(js, ready, start, *sensors, *queries)
	default:
		log.Fatalf("usage: history [flags] write|build|query")
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
func write(js jetstream.JetStream, nc *nats.Conn, days float64, sensors int) {
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
			if err := nc.Publish(subjects[i], data); err != nil {
				log.Fatal(err)
			}
		}
		if sec%1000 == 999 {
			if err := nc.Flush(); err != nil { // keep the server's inbound queue short
				log.Fatal(err)
			}
		}
		if sec%86400 == 86399 {
			log.Printf("written %d days (%.0f readings/s)", (sec+1)/86400, float64((sec+1)*sensors)/time.Since(t0).Seconds())
		}
	}
	want := before + uint64(seconds*sensors)
	for {
		info, err := st.Info(ctx)
		if err != nil {
			log.Fatal(err)
		}
		if info.State.Msgs >= want {
			break
		}
		if time.Since(t0) > time.Hour {
			log.Fatalf("stored %d of %d", info.State.Msgs, want)
		}
		time.Sleep(50 * time.Millisecond)
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
	return fmt.Sprintf("RSS %s (peak %s), Go heap in use %.1f MiB", field("VmRSS"), field("VmHWM"), float64(ms.HeapInuse)/(1<<20))
}
