// Command floor is the raw-socket SSE server that tempstream is measured
// against: the least a server can do to deliver the same events.
//
// It accepts, reads the request head, writes the response head (with the
// newest event, as tempstream sends on connect) once, and hands the socket
// to one of GOMAXPROCS writer goroutines. A ticker publishes a reading every
// --interval: it is encoded once (the same "temperature" event and JSON as
// tempstream's) and each writer writes that frame straight to every socket it
// owns with one non-blocking write(2). A socket that cannot take a whole
// frame at once (its send buffer is full: the client stopped reading) or
// that fails is closed. No HTTP library, no per-connection goroutine, no
// buffers but the kernel's, no heartbeats, no replay.
//
//	go run ./bench/floor -addr 127.0.0.1:5100 -interval 10ms
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"net"
	"os"
	"os/signal"
	"runtime"
	"syscall"
	"time"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:5100", "listen address")
	interval := flag.Duration("interval", time.Second, "time between readings")
	writers := flag.Int("writers", runtime.GOMAXPROCS(0), "writer goroutines (one per core)")
	flag.Parse()
	// Go raises the soft open-file limit to the hard one at start-up
	// (os, since Go 1.19): nothing to do here for 19,000 sockets.
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	f := newFloor(*writers, "sim-1")
	fmt.Fprintf(os.Stderr, "floor: listening on %s, a reading every %s, %d writers, pid %d\n", ln.Addr(), *interval, *writers, os.Getpid())
	go func() { <-ctx.Done(); ln.Close() }()
	go f.publishEvery(ctx, *interval)
	_ = f.serve(ln)
	f.close()
}
