// Command ssebench is a load tool for Server-Sent Events servers: it opens N
// subscribers at a ramp rate, spread over loopback source addresses, and
// measures connections per second, time to first event, delivery latency
// (from the "at" field of each event's JSON data to its arrival), events lost
// or duplicated per subscriber (from the numeric suffix of event IDs),
// reconnects and resets, and the server's CPU and memory (--server-pid).
//
// With --post-url it also posts the readings itself, to tempstream's ingest
// API, for --post-sensors sensors (each subscriber can follow one of them
// with --sensors), holds --idle-hold with nobody connected first, and
// reports the server's CPU per delivered event; loss is then counted
// against the IDs the poster got back (see ingest.go).
//
//	go run ./cmd/ssebench -url http://127.0.0.1:5000/events -n 2000 -ramp 500/s -duration 30s
//	go run ./cmd/ssebench compare floor.json tempstream.json   # Markdown table, ratios to the first
//	go run ./cmd/ssebench -url http://127.0.0.1:5000/events -n 10000 -sensors 1000 -server-pid PID \
//		-post-url http://127.0.0.1:5000/api/v1/readings -post-token T -post-sensors 1000 -post-rate 1/s -idle-hold 20s -duration 20s
//
// See BENCHMARKS.md for the scenarios it runs.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net"
	"net/netip"
	"net/url"
	"os"
	"os/signal"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "ssebench:", err)
		if errors.Is(err, errUsage) {
			os.Exit(2)
		}
		os.Exit(1)
	}
}

var errUsage = errors.New("usage")

// config is the command line.
type config struct {
	URL            string
	N              int           // subscribers over all shards
	Ramp           float64       // new connections a second over all shards
	Duration       time.Duration // steady phase after the ramp
	Settle         time.Duration // between the ramp and the steady phase
	Sources        int           // loopback source addresses 127.0.0.1..k
	Shard, Shards  int
	Parser         string // fast or spec
	BufSize        int
	Reconnect      bool
	ReconnectDelay time.Duration // < 0: the server's retry:
	StallFraction  float64
	StallRcvBuf    int
	ServerPID      int
	JSON           string
	Plot           string
	Label          string
	Quiet          bool
	AllowRemote    bool
	Headroom       int
	Sensors        int    // subscriber i follows sensor i mod Sensors (?sensor=); 0: no filter
	SensorPattern  string // sensor IDs, fmt-style with one %d
	// ingest (poster.go, ingest.go)
	PostURL     string
	PostToken   string
	PostSensors int
	PostRate    float64 // readings a second per sensor
	PostConns   int
	PostWarmup  time.Duration
	PostDrain   time.Duration
	IdleHold    time.Duration // server CPU with nobody connected, before the ramp
}

func parseFlags(args []string, stderr io.Writer) (config, error) {
	var c config
	fs := flag.NewFlagSet("ssebench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.URL, "url", "http://127.0.0.1:5000/events", "SSE URL to subscribe to (loopback only unless --allow-remote)")
	fs.IntVar(&c.N, "n", 100, "subscribers, over all shards")
	ramp := fs.String("ramp", "500/s", "connections opened a second over all shards (\"500/s\" or \"500\")")
	fs.DurationVar(&c.Duration, "duration", 10*time.Second, "how long to measure once every subscriber has connected")
	fs.DurationVar(&c.Settle, "settle", 0, "wait this long after the ramp before the steady phase")
	fs.IntVar(&c.Sources, "sources", 0, "source addresses 127.0.0.1…127.0.0.k (0: one per 10,000 subscribers, at least 2)")
	shard := fs.String("shard", "0/1", "this process's share i/n: subscribers i, i+n, i+2n… (run n processes)")
	fs.StringVar(&c.Parser, "parser", "fast", "event parser: fast (allocation-free) or spec (pkg/sse's sse.NewReader)")
	fs.IntVar(&c.BufSize, "buf", 4096, "read buffer per connection, bytes")
	fs.BoolVar(&c.Reconnect, "reconnect", true, "reconnect with Last-Event-ID after a stream ends")
	fs.DurationVar(&c.ReconnectDelay, "reconnect-delay", -1, "delay before reconnecting (negative: the server's retry:, at most 5s)")
	fs.Float64Var(&c.StallFraction, "stall-fraction", 0, "fraction of subscribers that stop reading after their first event")
	fs.IntVar(&c.StallRcvBuf, "stall-rcvbuf", 4096, "SO_RCVBUF of stalled subscribers, bytes (small, so the server feels them)")
	fs.IntVar(&c.ServerPID, "server-pid", 0, "sample this process's CPU (utime+stime) and VmRSS every second")
	fs.StringVar(&c.JSON, "json", "", "write results as JSON to this file (\"-\": stdout)")
	fs.StringVar(&c.Plot, "plot", "", "write an SVG chart (latency percentiles and subscribers over time) to this file")
	fs.StringVar(&c.Label, "label", "", "name of the run, in the summary, JSON and chart")
	fs.BoolVar(&c.Quiet, "quiet", false, "no progress line")
	fs.BoolVar(&c.AllowRemote, "allow-remote", false, "allow a non-loopback URL")
	fs.IntVar(&c.Headroom, "fd-headroom", 64, "file descriptors kept free beyond one per subscriber")
	fs.IntVar(&c.Sensors, "sensors", 0, "subscriber i follows one sensor, i mod this (?sensor=<--sensor-pattern>); 0: no filter")
	fs.StringVar(&c.SensorPattern, "sensor-pattern", "s-%d", "sensor IDs, with one %d for the index from 0 (--sensors, --post-sensors)")
	fs.StringVar(&c.PostURL, "post-url", "", "ingest URL to post readings to (tempstream: http://127.0.0.1:5000/api/v1/readings); empty: no poster")
	fs.StringVar(&c.PostToken, "post-token", "", "bearer token of --post-url")
	fs.IntVar(&c.PostSensors, "post-sensors", 1, "sensors the poster posts for (--sensor-pattern, indexes from 0)")
	postRate := fs.String("post-rate", "1/s", "readings a second per sensor; the posts of all sensors are spread evenly over each period")
	fs.IntVar(&c.PostConns, "post-conns", 0, "keep-alive connections of the poster (0: one per 25 posts a second, 1 to 64)")
	fs.DurationVar(&c.PostWarmup, "post-warmup", 2*time.Second, "posting before the hold without subscribers (every sensor known, connections open)")
	fs.DurationVar(&c.PostDrain, "post-drain", 3*time.Second, "after the steady phase: posting stops, subscribers keep reading this long before the loss count")
	fs.DurationVar(&c.IdleHold, "idle-hold", 0, "before the ramp: measure the server's CPU this long with nobody connected (the ingest alone); gives CPU per delivered event")
	if err := fs.Parse(args); err != nil {
		return c, errUsage
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("%w: unexpected argument %q", errUsage, fs.Arg(0))
	}
	r, err := parseRate(*ramp)
	if err != nil {
		return c, fmt.Errorf("%w: --ramp %q: want a positive rate like 500/s", errUsage, *ramp)
	}
	c.Ramp = r
	if c.PostRate, err = parseRate(*postRate); err != nil {
		return c, fmt.Errorf("%w: --post-rate %q: want a positive rate like 1/s", errUsage, *postRate)
	}
	if _, err := fmt.Sscanf(*shard, "%d/%d", &c.Shard, &c.Shards); err != nil || c.Shards < 1 || c.Shard < 0 || c.Shard >= c.Shards {
		return c, fmt.Errorf("%w: --shard %q: want i/n with 0 ≤ i < n", errUsage, *shard)
	}
	if c.N < 1 {
		return c, fmt.Errorf("%w: --n must be at least 1", errUsage)
	}
	if c.Parser != "fast" && c.Parser != "spec" {
		return c, fmt.Errorf("%w: --parser %q: fast or spec", errUsage, c.Parser)
	}
	if c.StallFraction < 0 || c.StallFraction >= 1 {
		return c, fmt.Errorf("%w: --stall-fraction must be in [0, 1)", errUsage)
	}
	if c.BufSize < 256 {
		return c, fmt.Errorf("%w: --buf must be at least 256", errUsage)
	}
	if c.Settle < 0 {
		return c, fmt.Errorf("%w: --settle must not be negative", errUsage)
	}
	if c.Sensors < 0 {
		return c, fmt.Errorf("%w: --sensors must not be negative", errUsage)
	}
	if err := checkSensorPattern(c.SensorPattern, max(c.Sensors, c.PostSensors)); err != nil {
		return c, err
	}
	if err := checkIngest(c); err != nil {
		return c, err
	}
	if c.Sources == 0 {
		c.Sources = min(max(2, (c.N+9999)/10000), 254)
	}
	if c.Sources < 1 || c.Sources > 254 {
		return c, fmt.Errorf("%w: --sources must be in 1..254", errUsage)
	}
	return c, nil
}

// parseRate reads a rate a second, "500/s" or "500".
func parseRate(s string) (float64, error) {
	r, err := strconv.ParseFloat(strings.TrimSuffix(s, "/s"), 64)
	if err != nil || !(r > 0) || math.IsInf(r, 0) {
		return 0, fmt.Errorf("not a positive rate: %q", s)
	}
	return r, nil
}

// parseTarget checks the URL and returns where to dial.
func parseTarget(raw string, allowRemote bool) (target, bool, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return target{}, false, err
	}
	if u.Scheme != "http" {
		return target{}, false, fmt.Errorf("%w: --url: only http:// (plain HTTP/1.1) is supported", errUsage)
	}
	port := u.Port()
	if port == "" {
		port = "80"
	}
	host := u.Hostname()
	loopback := false
	if host == "localhost" {
		host, loopback = "127.0.0.1", true
	} else if a, err := netip.ParseAddr(host); err == nil {
		loopback = a.IsLoopback()
	}
	if !loopback && !allowRemote {
		return target{}, false, fmt.Errorf("%w: --url %s is not a loopback address (--allow-remote to load it anyway)", errUsage, raw)
	}
	path := u.RequestURI()
	return target{hostport: net.JoinHostPort(host, port), host: u.Host, path: path}, loopback && strings.HasPrefix(host, "127."), nil
}

// runner holds the counters of one run.
type runner struct {
	cfg      config
	target   target
	spread   bool // spread over 127.0.0.x source addresses
	stop     chan struct{}
	stopping atomic.Bool
	steady   atomic.Bool

	connected, stalledNow               atomic.Int64
	newConns, events, backlog, noAt     atomic.Uint64
	dialErrors, httpErrors, disconnects atomic.Uint64
	reconnects, resets                  atomic.Uint64
	stalledOpen, stalledClosed          atomic.Uint64
	latency, window, steadyLat          Histogram
	connectTime, firstEvent             Histogram
	newestSeq                           atomic.Uint64 // highest ID suffix seen by any client
	errMu                               sync.Mutex
	errSamples                          map[string]int
	onEvent                             func(event) // tests: called for each event received
	poster                              *poster     // --post-url
}

// noteSeq raises newestSeq to seq: the server's publishing progress, as
// seen from the IDs (one prefix assumed).
func (r *runner) noteSeq(seq uint64) {
	for {
		cur := r.newestSeq.Load()
		if seq <= cur || r.newestSeq.CompareAndSwap(cur, seq) {
			return
		}
	}
}

func (r *runner) localAddr(idx int) net.Addr {
	if !r.spread {
		return nil
	}
	return &net.TCPAddr{IP: net.IPv4(127, 0, 0, byte(1+idx%r.cfg.Sources))}
}

// noteErr keeps a count of each kind of error that ended a stream.
func (r *runner) noteErr(err error) {
	msg := "end of stream"
	if err != nil {
		msg = err.Error()
		// strip addresses so that errors group
		if i := strings.LastIndex(msg, ": "); i >= 0 && strings.Contains(msg, "127.0.0.") {
			msg = msg[i+2:]
		}
	}
	r.errMu.Lock()
	if len(r.errSamples) < 32 || r.errSamples[msg] > 0 {
		r.errSamples[msg]++
	}
	r.errMu.Unlock()
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "compare" {
		return runCompare(args[1:], stdout)
	}
	cfg, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	tg, spread, err := parseTarget(cfg.URL, cfg.AllowRemote)
	if err != nil {
		return err
	}
	mine := (cfg.N - cfg.Shard + cfg.Shards - 1) / cfg.Shards
	limit, err := raiseNoFile()
	if err != nil {
		return fmt.Errorf("open-file limit: %w", err)
	}
	if need := uint64(mine + cfg.Headroom); need > limit {
		return fmt.Errorf("%d subscribers in this process need about %d open files, but the limit (RLIMIT_NOFILE) is %d: "+
			"split them with --shard 0/%d … --shard %d/%d over that many processes", mine, need, limit,
			(cfg.N+int(limit)-cfg.Headroom-1)/(int(limit)-cfg.Headroom), (cfg.N+int(limit)-cfg.Headroom-1)/(int(limit)-cfg.Headroom)-1,
			(cfg.N+int(limit)-cfg.Headroom-1)/(int(limit)-cfg.Headroom))
	}
	if spread && cfg.N/cfg.Sources > 25000 {
		fmt.Fprintf(stderr, "ssebench: warning: %d subscribers per source address is near the ~28,000 ephemeral ports of one address; raise --sources\n", cfg.N/cfg.Sources)
	}
	r := &runner{cfg: cfg, target: tg, spread: spread, stop: make(chan struct{}), errSamples: map[string]int{}}
	res := r.execute(ctx, mine, stderr)
	res.FDLimit = limit
	return report(res, cfg, stdout, stderr)
}

// execute runs the ramp and the steady phase and collects the results.
func (r *runner) execute(ctx context.Context, mine int, stderr io.Writer) *Results {
	cfg := r.cfg
	res := &Results{Label: cfg.Label, URL: cfg.URL, N: cfg.N, Mine: mine, Shard: fmt.Sprintf("%d/%d", cfg.Shard, cfg.Shards),
		Ramp: cfg.Ramp, Parser: cfg.Parser, StallFraction: cfg.StallFraction, Sources: cfg.Sources, Start: time.Now()}
	mon := newMonitor(cfg.ServerPID)
	res.ServerBase = mon.sampleServer()
	selfBase, _ := readProc(0)

	clients := make([]*client, mine)
	stallEvery := 0.0
	if cfg.StallFraction > 0 {
		stallEvery = cfg.StallFraction
	}
	var firsts sync.WaitGroup
	var firstOK atomic.Int64
	var wg sync.WaitGroup
	rate := cfg.Ramp / float64(cfg.Shards)
	t0 := time.Now()

	// progress sampler
	var series []Point
	var seriesMu sync.Mutex
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	samplerDone := make(chan struct{})
	var lastEvents, lastConns uint64
	var lastServer, lastSelf procSample = res.ServerBase, selfBase
	lastBusy, lastTotal := systemBusy()
	go func() {
		defer close(samplerDone)
		for {
			select {
			case <-tick.C:
			case <-r.stop:
				return
			}
			snap := r.window.Snapshot(true)
			ev, nc := r.events.Load(), r.newConns.Load()
			srv := mon.sampleServer()
			self, _ := readProc(0)
			busy, total := systemBusy()
			machine := 0.0
			if total > lastTotal {
				machine = 100 * float64(busy-lastBusy) / float64(total-lastTotal) * float64(runtime.NumCPU())
			}
			lastBusy, lastTotal = busy, total
			p := Point{T: time.Since(t0).Seconds(), Connected: r.connected.Load() - r.stalledNow.Load(), Stalled: r.stalledNow.Load(),
				NewConns: nc - lastConns, Events: ev - lastEvents, Samples: snap.N,
				P50: ms(snap.Quantile(0.5)), P90: ms(snap.Quantile(0.9)), P99: ms(snap.Quantile(0.99)), Max: ms(snap.Quantile(1)),
				Reconnects: r.reconnects.Load(), Disconnects: r.disconnects.Load(), Lost: 0,
				ServerCPU: cpuPct(lastServer, srv), ServerRSSMiB: float64(srv.RSS) / (1 << 20), SelfCPU: cpuPct(lastSelf, self)}
			p.OtherCPU = max(0, machine-p.ServerCPU-p.SelfCPU)
			lastEvents, lastConns, lastServer, lastSelf = ev, nc, srv, self
			seriesMu.Lock()
			series = append(series, p)
			seriesMu.Unlock()
			if !cfg.Quiet {
				fmt.Fprintf(stderr, "%5.0fs conn %6d (+%4d/s) stalled %d  ev/s %8d  p50 %7.1fms p90 %7.1fms p99 %7.1fms max %7.1fms  disc %d reconn %d  server cpu %5.1f%% rss %6.1fMiB  self cpu %5.1f%%  others %5.1f%%\n",
					p.T, p.Connected, p.NewConns, p.Stalled, p.Events, p.P50, p.P90, p.P99, p.Max, p.Disconnects, p.Reconnects, p.ServerCPU, p.ServerRSSMiB, p.SelfCPU, p.OtherCPU)
			}
		}
	}()

	// with --post-url: warm-up, then the hold with nobody connected
	interrupted := !r.startIngest(ctx, mon, res, stderr)
	rampStart := time.Now()
	if interrupted {
		mine = 0
	}

	// ramp
rampLoop:
	for k := range mine {
		idx := cfg.Shard + k*cfg.Shards
		stalled := stallEvery > 0 && int(float64(idx+1)*stallEvery) > int(float64(idx)*stallEvery)
		c := &client{r: r, idx: idx, stalled: stalled}
		if f := followed(idx, cfg.Sensors); f >= 0 {
			c.path = withSensor(r.target.path, sensorName(cfg.SensorPattern, f))
		}
		if r.poster != nil {
			c.got = &received{}
		}
		clients[k] = c
		due := rampStart.Add(time.Duration(float64(k) / rate * float64(time.Second)))
		if d := time.Until(due); d > 0 {
			select {
			case <-time.After(d):
			case <-ctx.Done():
				interrupted = true
				clients = clients[:k]
				break rampLoop
			}
		}
		firsts.Add(1)
		wg.Go(func() {
			c.run(func(ok bool) {
				if ok {
					firstOK.Add(1)
				}
				firsts.Done()
			})
		})
	}
	rampWait := make(chan struct{})
	go func() { firsts.Wait(); close(rampWait) }()
	select {
	case <-rampWait:
	case <-ctx.Done():
		interrupted = true
	case <-time.After(30 * time.Second):
		fmt.Fprintln(stderr, "ssebench: some first connections still pending 30 s after the ramp; measuring anyway")
	}
	rampEnd := time.Now()
	res.RampSeconds = rampEnd.Sub(rampStart).Seconds()
	res.ConnectedAfterRamp = firstOK.Load()
	res.ConnsPerSec = float64(firstOK.Load()) / res.RampSeconds

	// settle (--settle: the ramp's after-effects, such as its garbage, left out of the steady phase)
	if !interrupted && cfg.Settle > 0 {
		select {
		case <-time.After(cfg.Settle):
		case <-ctx.Done():
			interrupted = true
		}
	}

	// steady phase
	steadyStart := time.Now()
	steadyServer := mon.sampleServer()
	steadySelf, _ := readProc(0)
	steadyEvents := r.events.Load()
	steadySeq := r.newestSeq.Load()
	r.steady.Store(true)
	if !interrupted {
		select {
		case <-time.After(cfg.Duration):
		case <-ctx.Done():
			interrupted = true
		}
	}
	r.steady.Store(false)
	steadySecs := time.Since(steadyStart).Seconds()
	endEvents := r.events.Load()
	endSeq := r.newestSeq.Load()
	endServer := mon.sampleServer()
	endSelf, _ := readProc(0)
	connectedAtEnd := r.connected.Load() - r.stalledNow.Load()
	r.drainIngest(ctx, stderr) // with --post-url: posting stops, subscribers keep reading a while

	// stop: close every non-stalled connection; stalled ones check themselves
	r.stopping.Store(true)
	close(r.stop)
	for _, c := range clients {
		if c != nil && !c.stalled {
			if tc := c.conn.Load(); tc != nil {
				tc.Close()
			}
		}
	}
	wg.Wait()
	<-samplerDone

	res.Interrupted = interrupted
	res.SteadySeconds = steadySecs
	res.SettleSeconds = cfg.Settle.Seconds()
	res.ConnectedAtEnd = connectedAtEnd
	res.Events = r.events.Load()
	res.SteadyEvents = endEvents - steadyEvents
	res.EventsPerSec = float64(res.SteadyEvents) / steadySecs
	if endSeq > steadySeq && steadySeq > 0 {
		res.PublishedPerSec = float64(endSeq-steadySeq) / steadySecs
	}
	res.Backlog = r.backlog.Load()
	res.NoAt = r.noAt.Load()
	res.DialErrors, res.HTTPErrors = r.dialErrors.Load(), r.httpErrors.Load()
	res.Disconnects, res.Reconnects, res.Resets = r.disconnects.Load(), r.reconnects.Load(), r.resets.Load()
	res.StalledClients = r.stalledOpen.Load() + r.stalledClosed.Load()
	res.StalledClosedByServer = r.stalledClosed.Load()
	res.EndErrors = r.errSamples
	// IDs: gaps and repeats per client, and how far behind the newest each ended
	var maxSeq uint64
	var newest []byte
	for _, c := range clients {
		if c == nil || c.stalled {
			continue
		}
		res.Lost += c.ids.Lost
		res.Dup += c.ids.Dup
		res.EpochChanges += c.ids.Epochs
		res.OpaqueIDs += c.ids.Opaque
		if c.ids.Lost > 0 {
			res.ClientsWithLoss++
		}
		if c.ids.have && c.ids.last > maxSeq {
			maxSeq, newest = c.ids.last, c.ids.prefix
		}
	}
	for _, c := range clients {
		if c != nil && !c.stalled && c.ids.have && string(c.ids.prefix) == string(newest) && cfg.Sensors == 0 {
			res.BehindAtEndMax = max(res.BehindAtEndMax, maxSeq-c.ids.last)
		}
	}
	res.FollowSensors = cfg.Sensors
	res.LossMethod = "gaps in IDs"
	if cfg.Sensors > 0 { // a filtered subscriber's IDs are not consecutive: gaps say nothing
		res.LossMethod, res.Lost, res.ClientsWithLoss = "none (filtered IDs are not consecutive; use --post-url)", 0, 0
	}
	r.accountIngest(clients, res, steadyServer.At, endServer.At)
	res.Latency = summarize(r.steadyLat.Snapshot(false))
	res.LatencyAll = summarize(r.latency.Snapshot(false))
	res.ConnectTime = summarize(r.connectTime.Snapshot(false))
	res.FirstEvent = summarize(r.firstEvent.Snapshot(false))
	res.LatencyHist = r.steadyLat.Snapshot(false).Sparse()
	if cfg.ServerPID > 0 {
		res.ServerSteady, res.ServerEnd = steadyServer, endServer
		res.ServerCPUPct = cpuPct(steadyServer, endServer)
		res.ServerCPUSteadySeconds = (endServer.CPU - steadyServer.CPU).Seconds()
		if res.IdleHoldSeconds > 0 {
			res.CPUPerEventUS = cpuPerEventUS(endServer.CPU-steadyServer.CPU, endServer.At.Sub(steadyServer.At).Seconds(),
				res.ServerIdleEnd.CPU-res.ServerIdle.CPU, res.IdleHoldSeconds, res.SteadyEvents)
		}
		res.ServerRSSBaseMiB = float64(res.ServerBase.RSS) / (1 << 20)
		res.ServerRSSEndMiB = float64(endServer.RSS) / (1 << 20)
		if connectedAtEnd+r.stalledNow.Load() > 0 {
			res.ServerBytesPerSub = float64(endServer.RSS-res.ServerBase.RSS) / float64(connectedAtEnd+r.stalledNow.Load())
		}
		res.ServerPeakRSSMiB = mon.peakMiB()
	}
	res.SelfCPUPct = cpuPct(steadySelf, endSelf)
	seriesMu.Lock()
	var other float64
	var nOther int
	for _, p := range series {
		if p.T >= steadyStart.Sub(t0).Seconds() {
			other += p.OtherCPU
			nOther++
		}
	}
	if nOther > 0 {
		res.OtherCPUPct = other / float64(nOther)
	}
	res.Series = series
	seriesMu.Unlock()
	return res
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// cpuPct is the CPU used between two samples, in percent of one core.
func cpuPct(a, b procSample) float64 {
	wall := b.At.Sub(a.At)
	if wall <= 0 || b.CPU == 0 {
		return 0
	}
	return 100 * float64(b.CPU-a.CPU) / float64(wall)
}

// monitor samples the server process.
type monitor struct {
	pid  int
	mu   sync.Mutex
	peak int64
}

func newMonitor(pid int) *monitor { return &monitor{pid: pid} }

func (m *monitor) sampleServer() procSample {
	if m.pid <= 0 {
		return procSample{At: time.Now()}
	}
	s, err := readProc(m.pid)
	if err != nil {
		return procSample{At: time.Now()}
	}
	m.mu.Lock()
	m.peak = max(m.peak, s.RSS)
	m.mu.Unlock()
	return s
}

func (m *monitor) peakMiB() float64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return float64(m.peak) / (1 << 20)
}
