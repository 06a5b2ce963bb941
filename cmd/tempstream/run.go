package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/tempstream/tempstream/pkg/reading"
	"github.com/tempstream/tempstream/pkg/sim"
	"github.com/tempstream/tempstream/pkg/sse"
)

// temperatureStream is the stream that carries readings, served by default.
const temperatureStream = "temperature"

// run is the whole program: args[1] may name a command, otherwise it serves
// until ctx is done or SIGINT/SIGTERM arrives, then shuts down within
// --shutdown-timeout.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) > 1 {
		switch args[1] {
		case "healthcheck":
			return runHealthcheck(ctx, args[2:], getenv, stdout)
		case "watch":
			return runWatch(ctx, args[2:], getenv, stdout, stderr)
		}
	}
	cfg, err := parseConfig(args, getenv, stdout)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	log := newLogger(cfg, stderr)
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	seed := cfg.Seed
	if seed == 0 {
		seed = rand.Int64N(1<<62) + 1
	}
	sensors, _ := cfg.simSensors() // validated
	sims, err := sim.NewGroup(sim.Config{Min: cfg.SimMin, Max: cfg.SimMax, Model: sim.Model(cfg.SimModel), Seed: seed}, sensors...)
	if err != nil {
		return usageError{err}
	}

	epoch := sse.NewEpoch(time.Now()) // memory: IDs unique across restarts by epoch
	if cfg.Store == storeNATS {
		epoch = "" // nats: natsjs sets the JetStream stream's epoch; IDs carry its sequence numbers
	}
	broker := sse.NewBroker(sse.StreamOptions{
		Retention: cfg.Retention,
		MaxKeys:   cfg.MaxSensors,
		Epoch:     epoch,
		FedByLog:  cfg.Store == storeNATS,
		Metrics:   sse.NewMetrics(reg),
	}, temperatureStream)
	temps, _ := broker.Stream(temperatureStream)
	st, err := openStore(ctx, cfg, temps, log, reg)
	if err != nil {
		broker.Close()
		return err
	}
	defer st.Close()
	hist, err := openHistory(ctx, st, cfg, log)
	if err != nil {
		broker.Close()
		return err
	}
	defer hist.Close()

	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s (flag --addr): %w", cfg.Addr, err)
	}
	if cfg.SendBuffer > 0 {
		ln = sndbufListener{ln, cfg.SendBuffer}
	}
	var ready atomic.Bool
	events := &sse.Handler{
		Keys:           sensorsParam,
		Broker:         broker,
		DefaultStream:  temperatureStream,
		Retry:          cfg.Retry,
		Heartbeat:      cfg.Heartbeat,
		WriteTimeout:   cfg.WriteTimeout,
		MaxSubscribers: cfg.MaxSubscribers,
		Writers:        cfg.Writers,
		Logger:         log,
	}
	srv := &http.Server{
		Handler: routes(deps{
			log:          log,
			broker:       broker,
			reg:          reg,
			ready:        &ready,
			temps:        temps,
			store:        st,
			publishToken: cfg.PublishToken,
			publishRate:  cfg.PublishRate,
			now:          time.Now,
			events:       events,
			history:      hist,
			maxSensors:   cfg.MaxSensors,
		}),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	// Shutdown closes the listener, then this ends every open stream, so
	// clients reconnect (to the next process) instead of holding shutdown.
	srv.RegisterOnShutdown(broker.Close)

	var wg sync.WaitGroup
	simCtx, stopSim := context.WithCancel(ctx)
	defer stopSim()
	if cfg.Sim {
		round := time.Duration(0)
		if cfg.Store == storeNATS {
			round = cfg.Interval
		}
		publish := publisher(simCtx, st, round, log)
		gaps := newTickGaps(cfg.Interval, reg)
		wg.Go(func() {
			if cfg.Store == storeNATS {
				// Tick on the interval's boundaries of the wall clock, so
				// instances simulating side by side stamp the same ticks
				// and JetStream keeps one of each (PublishTick).
				next := time.Now().Truncate(cfg.Interval).Add(cfg.Interval)
				select {
				case <-simCtx.Done():
					return
				case <-time.After(time.Until(next)):
				}
			}
			t := time.NewTicker(cfg.Interval)
			defer t.Stop()
			publish(sims.Next(time.Now())) // a reading for the first subscribers at once
			sims.Run(simCtx, t.C, func(rs []sim.Reading) {
				if len(rs) > 0 {
					gaps.observe(rs[0].At)
				}
				publish(rs)
			})
		})
	}

	serveErr := make(chan error, 1)
	scheme := "http"
	if cfg.TLSCert != "" {
		// With TLS, net/http negotiates HTTP/2 by ALPN (and keeps HTTP/1.1).
		scheme = "https"
		wg.Go(func() { serveErr <- srv.ServeTLS(ln, cfg.TLSCert, cfg.TLSKey) })
	} else {
		wg.Go(func() { serveErr <- srv.Serve(ln) })
	}
	ready.Store(true)
	log.Info("listening", "addr", ln.Addr().String(), "page", scheme+"://"+ln.Addr().String()+"/temperature", "tls", cfg.TLSCert != "",
		"sim", cfg.Sim, "sensors", len(sensors), "seed", seed, "model", cfg.SimModel,
		"ingest", cfg.PublishToken != "", "store", cfg.Store, "interval", cfg.Interval, "max_subscribers", cfg.MaxSubscribers)

	select {
	case <-ctx.Done():
		log.Info("shutting down", "cause", context.Cause(ctx))
	case err = <-serveErr:
		err = fmt.Errorf("serve: %w", err)
	}
	ready.Store(false)
	stopSim()
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.ShutdownTimeout)
	defer cancel()
	start := time.Now()
	if e := srv.Shutdown(shutdownCtx); e != nil {
		log.Warn("shutdown timed out; closing connections", "err", e)
		_ = srv.Close()
	}
	broker.Close()
	// The streams written by the writer pool end once they have sent what
	// their subscribers had not read yet.
	if e := events.Shutdown(shutdownCtx); e != nil {
		log.Warn("shutdown timed out; closing streams", "err", e)
	}
	wg.Wait()
	log.Info("stopped", "shutdown", time.Since(start).Round(time.Millisecond))
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}

// publisher returns the simulator's emit function: each tick's readings
// become temperature events, stored as one tick. With round > 0 the tick
// time is rounded to it, in the readings and in their de-duplication IDs,
// so the same tick from several instances is one tick.
func publisher(ctx context.Context, st store, round time.Duration, log *slog.Logger) func([]sim.Reading) {
	return func(rs []sim.Reading) {
		if len(rs) == 0 {
			return
		}
		at := rs[0].At
		if round > 0 {
			at = at.Round(round)
		}
		batch := make([]reading.Reading, len(rs))
		for i, r := range rs {
			batch[i] = reading.New(r.Sensor, r.Celsius, at)
		}
		msgs, err := messages(batch)
		if err == nil {
			err = st.PublishTick(ctx, at, msgs)
		}
		if err != nil && !errors.Is(err, sse.ErrClosed) && ctx.Err() == nil {
			log.Error("publish simulated readings", "err", err)
		}
	}
}

func newLogger(cfg config, w io.Writer) *slog.Logger {
	var lvl slog.Level
	_ = lvl.UnmarshalText([]byte(cfg.LogLevel)) // validated
	opts := &slog.HandlerOptions{Level: lvl}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
