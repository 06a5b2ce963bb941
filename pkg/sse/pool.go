package sse

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// A pool writes the live part of hijacked HTTP/1.1 responses from a fixed
// set of goroutines (Handler.Writers), so that an idle subscriber costs a
// socket and a few hundred bytes of heap, not net/http's two goroutines
// and 10 KiB of buffers.
//
// Each pooled response belongs to one shard. A shard waits on one wake
// channel shared by all of its subscriptions, then writes to each socket
// what its subscription has unread, as one HTTP chunk in one non-blocking
// write(2). A socket that cannot take the whole chunk gets a goroutine of
// its own that finishes the write under the write deadline (a client that
// stopped reading: the only case with a goroutine per connection) and
// hands the socket back.
//
// Nothing reads the sockets: a client that leaves is seen by the hangups
// watcher (Linux), or else at the next write (event or heartbeat).
type pool struct {
	h         *Handler
	shards    []*shard
	next      atomic.Uint64
	live      atomic.Int64  // pooled responses not yet ended
	hurry     chan struct{} // closed by shutdown once blocked writes are to be cut
	hurried   atomic.Bool   // set before hurry is closed
	wg        sync.WaitGroup
	heartbeat time.Duration
	timeout   time.Duration
	hangups   *hangups
}

// shard is one writer goroutine and the responses it owns.
type shard struct {
	p    *pool
	wake chan struct{} // shared by every subscription of the shard
	stop chan struct{} // closed by pool.shutdown

	mu       sync.Mutex
	incoming []*pconn // handed over, not yet taken by run

	conns   []*pconn // owned by run
	frames  [][]byte
	buf     []byte
	tally   tally
	helpers sync.WaitGroup // finishWrite goroutines
}

// pconn is one pooled response.
type pconn struct {
	sh     *shard
	nc     net.Conn
	fd     int // nc's descriptor, written directly while the pool owns nc; -1: every write goes through finishWrite
	sub    *Subscription
	remote string
	start  time.Time
	events int
	bytes  int

	lastWrite time.Time // owned by whoever holds the socket (run, or finishWrite while busy)
	busy      atomic.Bool
	gone      atomic.Bool // the client closed its end (hangups)
	pending   []byte      // the rest of a chunk finishWrite is writing
	failed    string      // set by finishWrite before busy is cleared: why the response must end
}

// errWouldBlock is tryWrite's answer for a socket that took less than all.
var errWouldBlock = errors.New("sse: write would block")

// lastChunk ends a chunked response.
var lastChunk = []byte("0\r\n\r\n")

func newPool(h *Handler, writers int) *pool {
	hb := orDefault(h.Heartbeat, DefaultHeartbeat)
	p := &pool{h: h, heartbeat: hb, timeout: orDefault(h.WriteTimeout, DefaultWriteTimeout), hangups: newHangups(),
		hurry: make(chan struct{})}
	// The heartbeat and stalled-write checks run on this tick (and on
	// every wake-up); a comment goes out within a quarter heartbeat late.
	tick := min(max(hb/4, 5*time.Millisecond), time.Second)
	for range writers {
		sh := &shard{p: p, wake: make(chan struct{}, 1), stop: make(chan struct{})}
		p.shards = append(p.shards, sh)
		p.wg.Add(1)
		go sh.run(tick)
	}
	return p
}

// pick returns the shard for the next response: round robin.
func (p *pool) pick() *shard {
	return p.shards[p.next.Add(1)%uint64(len(p.shards))]
}

// add hands c to its shard.
func (sh *shard) add(c *pconn) {
	sh.p.live.Add(1)
	sh.p.hangups.watch(c)
	sh.mu.Lock()
	sh.incoming = append(sh.incoming, c)
	sh.mu.Unlock()
	sh.poke()
}

func (sh *shard) poke() {
	select {
	case sh.wake <- struct{}{}:
	default:
	}
}

// shutdownGrace is how long shutdown lets blocked writes go on before it
// cuts them: a client that reads slowly gets what it can meanwhile, one that
// stopped reading does not hold up the shutdown (it resumes elsewhere).
const shutdownGrace = 500 * time.Millisecond

// shutdown waits until every pooled response has ended (their streams
// closed) or ctx is done, then ends the rest and stops the shards. Writes
// still blocked after shutdownGrace are cut.
func (p *pool) shutdown(ctx context.Context) error {
	var err error
	if p.live.Load() > 0 {
		t := time.NewTicker(5 * time.Millisecond)
		grace := time.NewTimer(shutdownGrace)
	wait:
		for p.live.Load() > 0 {
			select {
			case <-ctx.Done():
				err = ctx.Err()
				break wait
			case <-grace.C:
				p.hurried.Store(true)
				close(p.hurry)
			case <-t.C:
			}
		}
		t.Stop()
		grace.Stop()
	}
	for _, sh := range p.shards {
		close(sh.stop)
	}
	p.wg.Wait()
	p.hangups.close()
	return err
}

func (sh *shard) run(tick time.Duration) {
	defer sh.p.wg.Done()
	t := time.NewTicker(tick)
	defer t.Stop()
	hurry := sh.p.hurry
	for {
		select {
		case <-hurry:
			hurry = nil
			sh.cutBlocked()
		case <-sh.wake:
		case <-t.C:
		case <-sh.stop:
			sh.pass(time.Now())
			sh.endAll()
			return
		}
		sh.pass(time.Now())
	}
}

// pass serves every response of the shard once.
func (sh *shard) pass(now time.Time) {
	sh.mu.Lock()
	sh.conns = append(sh.conns, sh.incoming...)
	clear(sh.incoming)
	sh.incoming = sh.incoming[:0]
	sh.mu.Unlock()
	kept := sh.conns[:0]
	for _, c := range sh.conns {
		if sh.serve(c, now) {
			kept = append(kept, c)
		}
	}
	clear(sh.conns[len(kept):])
	sh.conns = kept
	sh.tally.flush()
}

// tally adds up a pass's deliveries, so the shared counters are touched
// once a pass rather than once a subscriber.
type tally struct {
	m             *streamMetrics
	events, bytes int
}

func (t *tally) add(m *streamMetrics, events, bytes int) {
	if t.m != m {
		t.flush()
		t.m = m
	}
	t.events += events
	t.bytes += bytes
}

func (t *tally) flush() {
	if t.m != nil {
		t.m.delivered.Add(float64(t.events))
		t.m.bytes.Add(float64(t.bytes))
	}
	*t = tally{}
}

// cutBlocked ends the writes finishWrite is blocked in (their responses
// end as timed out).
func (sh *shard) cutBlocked() {
	for _, c := range sh.conns {
		if c.busy.Load() {
			_ = c.nc.SetWriteDeadline(time.Now())
		}
	}
}

// endAll cuts writes still blocked, waits for them, and ends every response.
func (sh *shard) endAll() {
	sh.cutBlocked()
	sh.helpers.Wait()
	for _, c := range sh.conns {
		reason := c.failed
		if reason == "" {
			reason = "server shutting down"
			if err := c.sub.Err(); err != nil {
				reason = err.Error()
			}
			_, _ = c.tryWrite(lastChunk)
		}
		sh.end(c, reason)
	}
	clear(sh.conns)
	sh.conns = nil
}

// serve writes what c has unread, or a heartbeat when c has been silent
// too long, and ends c when its subscription or socket did. It reports
// whether c stays in the shard.
func (sh *shard) serve(c *pconn, now time.Time) bool {
	if c.busy.Load() {
		return true // finishWrite holds the socket
	}
	if c.failed != "" {
		return sh.end(c, c.failed)
	}
	if c.gone.Load() {
		return sh.end(c, "client gone")
	}
	sm := &c.sub.stream.m
	for {
		var err error
		sh.frames, err = c.sub.Next(sh.frames[:0], maxBatch)
		if len(sh.frames) == 0 {
			if err == nil {
				err = c.sub.Err()
			}
			switch {
			case err == ErrClosed: // every event was sent: end cleanly
				_, _ = c.tryWrite(lastChunk)
				return sh.end(c, err.Error())
			case err != nil:
				return sh.end(c, err.Error())
			case now.Sub(c.lastWrite) >= sh.p.heartbeat:
				sm.heartbeats.Inc()
				sh.buf = appendChunk(sh.buf[:0], heartbeatFrame)
				return sh.write(c, sh.buf, now) != ended
			}
			return true
		}
		sh.buf = appendChunk(sh.buf[:0], sh.frames...)
		c.events += len(sh.frames)
		sh.tally.add(sm, len(sh.frames), 0)
		clear(sh.frames) // let the ring drop frames we no longer need
		switch sh.write(c, sh.buf, now) {
		case ended:
			return false
		case handed:
			return true // finishWrite holds c now; an eviction is found on its return
		}
		if err != nil { // evicted: what was read went out first
			return sh.end(c, err.Error())
		}
		if !c.sub.Pending() {
			return true
		}
	}
}

// writeResult is what became of a write: done, handed to finishWrite, or
// the response ended.
type writeResult int

const (
	written writeResult = iota
	handed
	ended
)

// write sends chunk to c without blocking; what the socket does not take
// is copied and finished by a goroutine of c's own (handed: c is not to be
// touched until it clears busy).
func (sh *shard) write(c *pconn, chunk []byte, now time.Time) writeResult {
	n, err := c.tryWrite(chunk)
	c.bytes += n
	sh.tally.add(&c.sub.stream.m, 0, n)
	switch {
	case err == nil:
		c.lastWrite = now
		return written
	case errors.Is(err, errWouldBlock):
		c.pending = append([]byte(nil), chunk[n:]...)
		c.busy.Store(true)
		sh.p.h.Broker.metrics.blocked.Inc()
		sh.helpers.Add(1)
		go sh.finishWrite(c)
		return handed
	}
	sh.end(c, c.failReason(err))
	return ended
}

// finishWrite writes c.pending under the write deadline, blocking, then
// gives c back to its shard.
func (sh *shard) finishWrite(c *pconn) {
	defer sh.helpers.Done()
	err := writeWithin(c.nc, c.sub, c.pending, sh.p.timeout, &c.bytes, &sh.p.hurried)
	if err != nil {
		c.failed = c.failReason(err)
	}
	c.pending = nil
	c.lastWrite = time.Now()
	sh.p.h.Broker.metrics.blocked.Dec()
	c.busy.Store(false)
	sh.poke()
}

// writeWithin writes p to nc, blocking at most timeout, and adds what went
// out to *n. An eviction of sub, or a shutdown in a hurry (cut, if not nil,
// set), sets the deadline to now and so cuts it.
func writeWithin(nc net.Conn, sub *Subscription, p []byte, timeout time.Duration, n *int, cut *atomic.Bool) error {
	sub.setBlocked(true)
	defer sub.setBlocked(false)
	if err := nc.SetWriteDeadline(time.Now().Add(timeout)); err != nil {
		return err
	}
	// An eviction or a cut sets the deadline to now; if it came before the
	// line above, it is seen here, so the writer never waits it out.
	if err := sub.Err(); err == ErrSlow {
		return err
	}
	if cut != nil && cut.Load() {
		return os.ErrDeadlineExceeded
	}
	k, err := nc.Write(p)
	*n += k
	sub.stream.m.bytes.Add(float64(k))
	return err
}

// failReason says why a write to c failed, as conn.writeFailed does.
func (c *pconn) failReason(err error) string {
	if e := c.sub.Err(); e == ErrSlow {
		return e.Error()
	}
	if errors.Is(err, os.ErrDeadlineExceeded) {
		c.sub.stream.m.droppedWrite.Inc()
		return "write timeout"
	}
	return "client gone"
}

// end closes c's socket and subscription, frees its slot and logs it.
// It returns false, for serve.
func (sh *shard) end(c *pconn, reason string) bool {
	sh.p.hangups.forget(c)
	_ = c.nc.Close()
	c.sub.Close()
	p := sh.p
	p.h.active.Add(-1)
	p.live.Add(-1)
	p.h.logger().Info("stream closed", "stream", c.sub.stream.name, "remote", c.remote, "reason", reason,
		"duration", time.Since(c.start).Round(time.Millisecond), "events", c.events, "bytes", c.bytes, "pooled", true)
	return false
}

// tryWrite writes p with one non-blocking write(2) (Go's sockets are
// non-blocking). It returns errWouldBlock, with what was written, when the
// socket took less than all. It writes to the descriptor directly, not
// through net.Conn or RawConn (whose locks and poller resets cost more than
// the rest of a delivery): that is safe because only the shard closes nc,
// and only after its last write, and finishWrite holds nc alone while busy.
func (c *pconn) tryWrite(p []byte) (int, error) {
	if c.fd < 0 {
		return 0, errWouldBlock
	}
	var n int
	var err error
	for {
		n, err = syscall.Write(c.fd, p)
		if err != syscall.EINTR {
			break
		}
	}
	n = max(n, 0)
	switch {
	case err == syscall.EAGAIN || (err == nil && n < len(p)):
		return n, errWouldBlock
	case err != nil:
		return n, err
	}
	return n, nil
}

// appendChunk appends frames to dst as one HTTP/1.1 chunk.
func appendChunk(dst []byte, frames ...[]byte) []byte {
	n := 0
	for _, f := range frames {
		n += len(f)
	}
	dst = strconv.AppendInt(dst, int64(n), 16)
	dst = append(dst, '\r', '\n')
	for _, f := range frames {
		dst = append(dst, f...)
	}
	return append(dst, '\r', '\n')
}

func (h *Handler) logger() *slog.Logger {
	if h.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return h.Logger
}
