package main

import (
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/tempstream/tempstream/pkg/history"
	"github.com/tempstream/tempstream/pkg/reading"
	"github.com/tempstream/tempstream/pkg/sim"
)

// config is everything run needs, from flags with TEMPSTREAM_* environment
// variables as defaults.
type config struct {
	Addr            string
	Interval        time.Duration
	SimMin, SimMax  float64
	SimModel        string
	Sim             bool
	SimSensors      string
	Seed            int64
	PublishToken    string
	PublishRate     int
	MaxSensors      int
	Heartbeat       time.Duration
	Retry           time.Duration
	WriteTimeout    time.Duration
	SendBuffer      int
	Writers         int
	Retention       int
	MaxSubscribers  int
	ShutdownTimeout time.Duration
	LogFormat       string
	LogLevel        string
	TLSCert, TLSKey string // both or neither: serve HTTPS (and HTTP/2)

	Store        string // storeNATS or storeMemory
	DataDir      string
	NATSURL      string
	NATSListen   string
	NATSReplicas int
	MaxAge       time.Duration

	HistoryAge time.Duration // summaries for GET /api/v1/history are kept this long
}

// The two stores.
const (
	storeNATS   = "nats"
	storeMemory = "memory"
)

// usageError is a bad flag or environment value: run's caller exits with 2.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// envName is the environment variable that sets flag name's default.
func envName(name string) string {
	return "TEMPSTREAM_" + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
}

func newFlagSet(cfg *config) *flag.FlagSet {
	fs := flag.NewFlagSet("tempstream", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&cfg.Addr, "addr", "0.0.0.0:5000", "address to listen on, host:port (port 0 picks a free one)")
	fs.DurationVar(&cfg.Interval, "interval", time.Second, "time between simulated readings")
	fs.Float64Var(&cfg.SimMin, "sim-min", 20, "lowest simulated reading, °C")
	fs.Float64Var(&cfg.SimMax, "sim-max", 30, "highest simulated reading, °C")
	fs.StringVar(&cfg.SimModel, "sim-model", string(sim.Walk), "simulator model: walk (small mean-reverting steps) or uniform (independent draws, as the original)")
	fs.BoolVar(&cfg.Sim, "sim", true, "run the simulator; --sim=false when only real sensors feed the service")
	fs.StringVar(&cfg.SimSensors, "sim-sensors", "sim-1", "simulated sensors: a count (3 gives sim-1, sim-2, sim-3) or comma-separated sensor IDs")
	fs.StringVar(&cfg.PublishToken, "publish-token", "", "bearer token that POST /api/v1/readings requires; empty disables ingest (403)")
	fs.IntVar(&cfg.PublishRate, "publish-rate", 50, "ingest requests per second allowed per client address and per token; past it, 429")
	fs.IntVar(&cfg.MaxSensors, "max-sensors", 1000, "distinct sensors the service remembers; readings of further new sensors are refused (400)")
	fs.Int64Var(&cfg.Seed, "seed", 0, "simulator seed; 0 picks a random one (logged at start)")
	fs.DurationVar(&cfg.Heartbeat, "heartbeat", 15*time.Second, "write a comment on a stream idle this long, so proxies keep it open; keep it under every proxy's read timeout")
	fs.DurationVar(&cfg.Retry, "retry", 2*time.Second, "reconnection delay sent to clients as retry:")
	fs.DurationVar(&cfg.WriteTimeout, "write-timeout", 10*time.Second, "a subscriber whose write takes longer is disconnected (it resumes from the replay ring)")
	fs.IntVar(&cfg.SendBuffer, "sndbuf", 0, "kernel send buffer per connection in bytes; 0 keeps the system's (auto-tuned); small values find stalled clients sooner")
	fs.IntVar(&cfg.Writers, "writers", runtime.GOMAXPROCS(0), "goroutines that write the plain HTTP/1.1 streams (non-blocking; an idle subscriber holds no goroutine); 0 gives each stream a goroutine of its own (HTTP/2 and TLS streams always have one)")
	fs.IntVar(&cfg.Retention, "retention", 3600, "readings kept in memory per sensor for replay to resuming clients")
	fs.IntVar(&cfg.MaxSubscribers, "max-subscribers", defaultMaxSubscribers(), "concurrent stream subscribers; past it, 503 with Retry-After (default: the open-file limit minus headroom)")
	fs.DurationVar(&cfg.ShutdownTimeout, "shutdown-timeout", 10*time.Second, "how long shutdown may wait for open connections")
	fs.StringVar(&cfg.LogFormat, "log-format", "text", "log format: text or json")
	fs.StringVar(&cfg.LogLevel, "log-level", "info", "log level: debug, info, warn or error")
	fs.StringVar(&cfg.Store, "store", storeNATS, "where readings are kept: nats (JetStream: durable, several instances can share it) or memory (this process only)")
	fs.StringVar(&cfg.DataDir, "data-dir", "./data", "the embedded NATS server's JetStream directory (store nats without --nats-url)")
	fs.StringVar(&cfg.NATSURL, "nats-url", "", "external NATS servers, comma-separated (nats://a:4222,nats://b:4222); empty starts an embedded server")
	fs.StringVar(&cfg.NATSListen, "nats-listen", "", "address the embedded NATS server listens on for other clients (host:port); empty opens no port")
	fs.IntVar(&cfg.NATSReplicas, "nats-replicas", 1, "replicas of the JetStream stream (up to the cluster's size)")
	fs.DurationVar(&cfg.MaxAge, "max-age", 24*time.Hour, "JetStream keeps every reading this long (0: no age limit, and then each sensor's newest --retention)")
	fs.DurationVar(&cfg.HistoryAge, "history-age", history.DefaultAge, "how long the history (GET /api/v1/history) keeps each sensor's summaries by minute and by hour")
	fs.StringVar(&cfg.TLSCert, "tls-cert", "", "PEM certificate (chain) file: serve HTTPS, with HTTP/2, instead of plain HTTP; needs --tls-key")
	fs.StringVar(&cfg.TLSKey, "tls-key", "", "PEM private key file of --tls-cert")
	return fs
}

// parseConfig reads the environment, then args (args[0] is the program
// name). It returns flag.ErrHelp after writing the help to stdout.
func parseConfig(args []string, getenv func(string) string, stdout io.Writer) (config, error) {
	var cfg config
	fs := newFlagSet(&cfg)
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		v := getenv(envName(f.Name))
		if v == "" || err != nil {
			return
		}
		if e := fs.Set(f.Name, v); e != nil {
			err = usageError{fmt.Errorf("invalid value %q for %s (flag --%s): %v", v, envName(f.Name), f.Name, e)}
		}
	})
	if err != nil {
		return cfg, err
	}
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			writeUsage(stdout, fs)
			return cfg, flag.ErrHelp
		}
		return cfg, usageError{err}
	}
	if fs.NArg() > 0 {
		return cfg, usageError{fmt.Errorf("unexpected argument %q (commands: healthcheck, watch; see --help)", fs.Arg(0))}
	}
	return cfg, cfg.validate()
}

func (c config) validate() error {
	bad := func(flag, format string, a ...any) error {
		return usageError{fmt.Errorf("invalid value for flag --%s (%s): %s", flag, envName(flag), fmt.Sprintf(format, a...))}
	}
	switch {
	case c.Addr == "":
		return bad("addr", "empty")
	case c.Interval <= 0:
		return bad("interval", "%v is not positive", c.Interval)
	case math.IsNaN(c.SimMin) || math.IsInf(c.SimMin, 0):
		return bad("sim-min", "%v is not a finite number", c.SimMin)
	case math.IsNaN(c.SimMax) || math.IsInf(c.SimMax, 0):
		return bad("sim-max", "%v is not a finite number", c.SimMax)
	case c.SimMin >= c.SimMax:
		return bad("sim-max", "%v is not above --sim-min %v", c.SimMax, c.SimMin)
	case c.Heartbeat <= 0:
		return bad("heartbeat", "%v is not positive", c.Heartbeat)
	case c.Retry <= 0:
		return bad("retry", "%v is not positive", c.Retry)
	case c.WriteTimeout <= 0:
		return bad("write-timeout", "%v is not positive", c.WriteTimeout)
	case c.SendBuffer < 0:
		return bad("sndbuf", "%d is negative", c.SendBuffer)
	case c.Writers < 0 || c.Writers > 1024:
		return bad("writers", "%d is not between 0 and 1024", c.Writers)
	case c.Retention < 1 || c.Retention > 10_000_000:
		return bad("retention", "%d is not between 1 and 10000000", c.Retention)
	case c.MaxSubscribers < 1:
		return bad("max-subscribers", "%d is not positive", c.MaxSubscribers)
	case c.ShutdownTimeout <= 0:
		return bad("shutdown-timeout", "%v is not positive", c.ShutdownTimeout)
	case c.PublishRate < 1:
		return bad("publish-rate", "%d is not positive", c.PublishRate)
	case c.MaxSensors < 1:
		return bad("max-sensors", "%d is not positive", c.MaxSensors)
	case c.Store != storeNATS && c.Store != storeMemory:
		return bad("store", "%q is not nats or memory", c.Store)
	case c.NATSReplicas < 1 || c.NATSReplicas > 5:
		return bad("nats-replicas", "%d is not from 1 to 5", c.NATSReplicas)
	case c.MaxAge < 0:
		return bad("max-age", "%v is negative", c.MaxAge)
	case c.HistoryAge < time.Minute || c.HistoryAge > history.MaxSpan:
		return bad("history-age", "%v is not from 1m to %v", c.HistoryAge, history.MaxSpan)
	case c.Store == storeNATS && c.NATSURL == "" && c.DataDir == "":
		return bad("data-dir", "empty")
	case c.LogFormat != "text" && c.LogFormat != "json":
		return bad("log-format", "%q is not text or json", c.LogFormat)
	}
	sensors, err := c.simSensors()
	switch {
	case err != nil:
		return bad("sim-sensors", "%v", err)
	case c.Sim && len(sensors) > c.MaxSensors:
		return bad("max-sensors", "%d is fewer than the %d simulated sensors", c.MaxSensors, len(sensors))
	case c.Sim && len(sensors) > max(c.Retention/2, 1):
		return bad("sim-sensors", "%d sensors tick as one batch, more than half of --retention %d", len(sensors), c.Retention)
	}
	if _, err := sim.ParseModel(c.SimModel); err != nil {
		return bad("sim-model", "%q is not walk or uniform", c.SimModel)
	}
	if _, err := sim.New(sim.Config{Min: c.SimMin, Max: c.SimMax}); err != nil {
		return bad("sim-max", "%v", err)
	}
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(c.LogLevel)); err != nil {
		return bad("log-level", "%q is not debug, info, warn or error", c.LogLevel)
	}
	switch {
	case c.TLSCert != "" && c.TLSKey == "":
		return bad("tls-key", "empty, but --tls-cert is set: give both or neither")
	case c.TLSKey != "" && c.TLSCert == "":
		return bad("tls-cert", "empty, but --tls-key is set: give both or neither")
	case c.TLSCert != "":
		for _, f := range [...]struct{ flag, path string }{{"tls-cert", c.TLSCert}, {"tls-key", c.TLSKey}} {
			if _, err := os.ReadFile(f.path); err != nil {
				return bad(f.flag, "%v", err)
			}
		}
		if _, err := tls.LoadX509KeyPair(c.TLSCert, c.TLSKey); err != nil {
			return bad("tls-cert", "%q with --tls-key %q: %v", c.TLSCert, c.TLSKey, err)
		}
	}
	return nil
}

func writeUsage(w io.Writer, fs *flag.FlagSet) {
	fmt.Fprint(w, `tempstream: live temperature readings over Server-Sent Events.

Usage:
  tempstream [flags]             serve the page (/temperature) and the stream (/events)
  tempstream healthcheck [URL]   exit 0 if the server at URL answers /healthz (default: from TEMPSTREAM_ADDR)
  tempstream watch [flags] [URL] print each reading of the stream at URL (default: /events from TEMPSTREAM_ADDR); see watch --help

Every flag's default can be set with the environment variable named beside it.

Flags:
`)
	fs.VisitAll(func(f *flag.Flag) {
		typ, usage := flag.UnquoteUsage(f)
		fmt.Fprintf(w, "  --%s %s\n      %s\n      env %s, default %q\n", f.Name, typ, usage, envName(f.Name), f.DefValue)
	})
}

// simSensors returns the simulated sensors' IDs from --sim-sensors: a count
// (1 to 1000) or a comma-separated list of distinct sensor IDs.
func (c config) simSensors() ([]string, error) {
	spec := strings.TrimSpace(c.SimSensors)
	if n, err := strconv.Atoi(spec); err == nil {
		if n < 1 || n > 1000 {
			return nil, fmt.Errorf("%d sensors: give 1 to 1000", n)
		}
		ids := make([]string, n)
		for i := range ids {
			ids[i] = "sim-" + strconv.Itoa(i+1)
		}
		return ids, nil
	}
	var ids []string
	seen := map[string]bool{}
	for _, id := range strings.Split(spec, ",") {
		id = strings.TrimSpace(id)
		if !reading.ValidSensor(id) {
			return nil, fmt.Errorf("sensor ID %q does not match %s", id, reading.SensorPattern)
		}
		if seen[id] {
			return nil, fmt.Errorf("sensor ID %q given twice", id)
		}
		seen[id] = true
		ids = append(ids, id)
	}
	return ids, nil
}
