// Command r3labs is the baseline: an SSE server on github.com/r3labs/sse/v2
// (v2.10.0) with its defaults (r3sse.New(): AutoReplay on, a 1,024-event
// stream buffer), one stream "temperature", and a ticker publishing the same
// "temperature" event JSON as tempstream every --interval. Serve it at
// /events?stream=temperature.
//
//	go run ./bench/r3labs -addr 127.0.0.1:5200 -interval 10ms
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	r3sse "github.com/r3labs/sse/v2"

	"github.com/tempstream/tempstream/pkg/reading"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:5200", "listen address")
	interval := flag.Duration("interval", time.Second, "time between readings")
	flag.Parse()
	// Go raises the soft open-file limit to the hard one at start-up
	// (os, since Go 1.19): nothing to do here for 19,000 sockets.
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	srv, r3 := newServer()
	fmt.Fprintf(os.Stderr, "r3labs: listening on %s (/events?stream=temperature), a reading every %s, pid %d\n", ln.Addr(), *interval, os.Getpid())
	go publishEvery(ctx, r3, *interval)
	go func() { <-ctx.Done(); srv.Close(); r3.Close() }()
	_ = srv.Serve(ln)
}

// newServer returns the HTTP server and r3labs' server with its defaults.
func newServer() (*http.Server, *r3sse.Server) {
	r3 := r3sse.New()
	r3.CreateStream("temperature")
	mux := http.NewServeMux()
	mux.HandleFunc("/events", r3.ServeHTTP)
	return &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}, r3
}

// publishEvery publishes a reading taken now every d.
func publishEvery(ctx context.Context, r3 *r3sse.Server, d time.Duration) {
	celsius := 25.0
	pub := func(now time.Time) {
		celsius += (rand.Float64() - 0.5) * 0.2
		data, _ := reading.New("sim-1", celsius, now).MarshalData()
		r3.Publish("temperature", &r3sse.Event{Event: []byte(reading.EventType), Data: data})
	}
	pub(time.Now())
	t := time.NewTicker(d)
	defer t.Stop()
	for {
		select {
		case now := <-t.C:
			pub(now)
		case <-ctx.Done():
			return
		}
	}
}
