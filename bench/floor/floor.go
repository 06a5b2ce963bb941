package main

import (
	"bufio"
	"bytes"
	"context"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tempstream/tempstream/pkg/reading"
	"github.com/tempstream/tempstream/pkg/sse"
)

const head = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream; charset=utf-8\r\nCache-Control: no-cache, no-transform\r\nX-Accel-Buffering: no\r\nConnection: close\r\n\r\nretry: 2000\n\n"

// floor is the minimal fan-out: writers own sockets, the publisher hands
// them each frame once.
type floor struct {
	sensor  string
	epoch   string
	seq     uint64
	writers []*writer
	next    atomic.Uint64
	celsius float64
	// Dropped counts sockets closed because a write failed or was partial.
	Dropped atomic.Int64
}

type writer struct {
	mu    sync.Mutex
	conns []sock
	last  []byte // the newest frame written to every socket of this writer
	ch    chan []byte
	done  chan struct{}
}

type sock struct {
	c  *net.TCPConn // kept so the fd stays open
	fd int
}

func newFloor(n int, sensor string) *floor {
	f := &floor{sensor: sensor, epoch: sse.NewEpoch(time.Now()), celsius: 25}
	for range max(n, 1) {
		w := &writer{ch: make(chan []byte, 4096), done: make(chan struct{})}
		f.writers = append(f.writers, w)
		go f.write(w)
	}
	return f
}

// publish encodes one reading taken now and gives it to every writer.
func (f *floor) publish(now time.Time) {
	f.seq++
	f.celsius += (rand.Float64() - 0.5) * 0.2
	data, _ := reading.New(f.sensor, f.celsius, now).MarshalData()
	frame, _ := sse.AppendEvent(make([]byte, 0, 160), sse.Event{ID: sse.FormatID(f.epoch, f.seq), Type: reading.EventType, Data: data})
	for _, w := range f.writers {
		w.ch <- frame // a writer that is behind holds up the ticker: it shows
	}
}

func (f *floor) publishEvery(ctx context.Context, d time.Duration) {
	f.publish(time.Now())
	t := time.NewTicker(d)
	defer t.Stop()
	for {
		select {
		case now := <-t.C:
			f.publish(now)
		case <-ctx.Done():
			return
		}
	}
}

// write sends each frame to every socket of w. Frames that queued while it
// was writing go out together, one write(2) per socket (as tempstream
// batches what a subscriber has not read yet).
func (f *floor) write(w *writer) {
	defer close(w.done)
	var batch []byte
	for frame := range w.ch {
		last := frame
		batch = append(batch[:0], frame...)
	more:
		for len(batch) < 64<<10 {
			select {
			case fr, ok := <-w.ch:
				if !ok {
					break more
				}
				batch = append(batch, fr...)
				last = fr
			default:
				break more
			}
		}
		frame := batch
		w.mu.Lock()
		kept := w.conns[:0]
		for _, s := range w.conns {
			n, err := writeFD(s.fd, frame)
			if err != nil || n != len(frame) {
				s.c.Close()
				f.Dropped.Add(1)
				continue
			}
			kept = append(kept, s)
		}
		clear(w.conns[len(kept):])
		w.conns = kept
		w.last = last
		w.mu.Unlock()
	}
}

// serve accepts until ln is closed.
func (f *floor) serve(ln net.Listener) error {
	for {
		c, err := ln.Accept()
		if err != nil {
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				continue
			}
			return err
		}
		go f.handshake(c.(*net.TCPConn))
	}
}

// handshake reads the request head, writes the response head and the
// newest event, then gives the socket to a writer.
func (f *floor) handshake(c *net.TCPConn) {
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	br := bufio.NewReaderSize(c, 1024)
	for {
		line, err := br.ReadSlice('\n')
		if err != nil {
			c.Close()
			return
		}
		if len(bytes.TrimRight(line, "\r\n")) == 0 {
			break
		}
	}
	_ = c.SetReadDeadline(time.Time{})
	w := f.writers[f.next.Add(1)%uint64(len(f.writers))]
	rc, err := c.SyscallConn()
	if err != nil {
		c.Close()
		return
	}
	fd := -1
	_ = rc.Control(func(u uintptr) { fd = int(u) })
	// Under the writer's lock, with the newest frame it wrote: the next one
	// it writes follows it, with no gap and no repeat.
	w.mu.Lock()
	defer w.mu.Unlock()
	msg := append([]byte(head), w.last...)
	if _, err := c.Write(msg); err != nil {
		c.Close()
		return
	}
	w.conns = append(w.conns, sock{c: c, fd: fd})
}

// subscribers returns the sockets held now.
func (f *floor) subscribers() int {
	n := 0
	for _, w := range f.writers {
		w.mu.Lock()
		n += len(w.conns)
		w.mu.Unlock()
	}
	return n
}

// close stops the writers and closes every socket.
func (f *floor) close() {
	for _, w := range f.writers {
		close(w.ch)
		<-w.done
		for _, s := range w.conns {
			s.c.Close()
		}
		w.conns = nil
	}
}
