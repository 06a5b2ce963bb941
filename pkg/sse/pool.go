package sse

import (
	"cmp"
	"context"
	"errors"
	"log/slog"
	"net"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// A pool writes the live part of hijacked HTTP/1.1 responses from a fixed
// set of goroutines (Handler.Writers), so that an idle subscriber costs a
// socket and a few hundred bytes of heap, not net/http's two goroutines
// and 10 KiB of buffers.
//
// Each pooled response belongs to one shard, a goroutine. A publish puts
// the responses it concerns (and only those: see keylog.go) on their
// shard's ready list and pokes the shard, which then takes one delivery
// step (deliver.go) for each: what its subscription has unread goes out as
// one HTTP chunk in one non-blocking write(2). The shard keeps its
// responses in order of their last write, so the heartbeats that are due
// are found at the front, without visiting the others. A socket that cannot
// take the whole chunk gets a goroutine of its own that finishes the write
// under the write deadline (a client that stopped reading: the only case
// with a goroutine per connection) and hands the socket back.
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
	wake chan struct{} // poked when incoming or ready has something
	stop chan struct{} // closed by pool.shutdown

	mu       sync.Mutex
	incoming []*pconn // handed over, not yet taken by run
	ready    []*pconn // notified since run last looked

	// Owned by run.
	idle       pconnList           // the responses it writes, least recently written first
	busy       map[*pconn]struct{} // the responses finishWrite holds
	spareIn    []*pconn
	spareReady []*pconn
	frames     [][]byte
	buf        []byte
	out        pconnSink // reused: a sink made per visit would be allocated
	tally      tally
	helpers    sync.WaitGroup // finishWrite goroutines
	serves     atomic.Int64   // delivery visits of responses (serve calls), for tests of the fan-out's cost; the shard's own, so not contended
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

	lastWrite time.Time   // owned by whoever holds the socket (run, or finishWrite while busy)
	queued    atomic.Bool // on the shard's ready list
	busy      atomic.Bool
	gone      atomic.Bool // the client closed its end (hangups)
	pending   []byte      // the rest of a chunk finishWrite is writing
	failed    endReason   // set by finishWrite before busy is cleared: why the response must end

	// Owned by run.
	prev, next *pconn // in shard.idle
	listed     bool
	ended      bool
}

// errWouldBlock is tryWrite's answer for a socket that took less than all.
var errWouldBlock = errors.New("sse: write would block")

// lastChunk ends a chunked response.
var lastChunk = []byte("0\r\n\r\n")

func newPool(h *Handler, writers int) *pool {
	hb := orDefault(h.Heartbeat, DefaultHeartbeat)
	p := &pool{h: h, heartbeat: hb, timeout: orDefault(h.WriteTimeout, DefaultWriteTimeout), hangups: newHangups(),
		hurry: make(chan struct{})}
	// The heartbeat check runs on this tick (and on every wake-up); a
	// comment goes out within a quarter heartbeat late.
	tick := min(max(hb/4, 5*time.Millisecond), time.Second)
	for range writers {
		sh := &shard{p: p, wake: make(chan struct{}, 1), stop: make(chan struct{}), busy: make(map[*pconn]struct{})}
		p.shards = append(p.shards, sh)
		p.wg.Add(1)
		go sh.run(tick)
	}
	return p
}

// serves is how many delivery visits the shards made.
func (p *pool) serves() int64 {
	var n int64
	for _, sh := range p.shards {
		n += sh.serves.Load()
	}
	return n
}

// pick returns the shard for the next response: round robin.
func (p *pool) pick() *shard {
	return p.shards[p.next.Add(1)%uint64(len(p.shards))]
}

// add hands c to its shard: from now on c gets its subscription's
// wake-ups.
func (sh *shard) add(c *pconn) {
	c.sh = sh
	c.sub.setNotifier(c)
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

// notify puts c on its shard's ready list (once until the shard takes it)
// and pokes the shard. It never blocks: publishers call it under the
// stream's lock.
func (c *pconn) notify() {
	if c.queued.Swap(true) {
		return
	}
	sh := c.sh
	sh.mu.Lock()
	sh.ready = append(sh.ready, c)
	sh.mu.Unlock()
	sh.poke()
}

// notifyIn adds c to b, to be put on its shard's ready list when b is
// flushed (once until the shard takes it).
func (c *pconn) notifyIn(b *wakeBatch) {
	if c.queued.Swap(true) {
		return
	}
	b.add(c)
}

// wakeBatch gathers a publish's wake-ups of pooled responses by shard, so
// that each shard gets its share in one append and one poke, once the
// publisher has visited every subscriber: a shard woken at the first
// wake-up would take the list a few at a time, racing the publisher for
// it. Owned by its stream's publisher (under Stream.pubMu).
type wakeBatch struct {
	groups []wakeGroup
}

type wakeGroup struct {
	sh    *shard
	conns []*pconn
}

func (b *wakeBatch) add(c *pconn) {
	for i := range b.groups {
		if g := &b.groups[i]; g.sh == c.sh {
			g.conns = append(g.conns, c)
			return
		}
	}
	b.groups = append(b.groups, wakeGroup{sh: c.sh, conns: []*pconn{c}})
}

// flush hands every gathered wake-up to its shard and pokes it.
func (b *wakeBatch) flush() {
	for i := range b.groups {
		g := &b.groups[i]
		if len(g.conns) == 0 {
			continue
		}
		g.sh.mu.Lock()
		g.sh.ready = append(g.sh.ready, g.conns...)
		g.sh.mu.Unlock()
		g.sh.poke()
		clear(g.conns)
		g.conns = g.conns[:0]
	}
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

// pass serves the responses handed over or notified since the last pass,
// then those due a heartbeat.
func (sh *shard) pass(now time.Time) {
	sh.mu.Lock()
	incoming, ready := sh.incoming, sh.ready
	sh.incoming, sh.ready = sh.spareIn[:0], sh.spareReady[:0]
	sh.mu.Unlock()
	for _, c := range incoming {
		sh.serve(c, now)
	}
	for _, c := range ready {
		c.queued.Store(false) // a wake-up from now on puts it back on the list
		if !c.ended {
			sh.serve(c, now)
		}
	}
	clear(incoming)
	clear(ready)
	sh.spareIn, sh.spareReady = incoming[:0], ready[:0]
	// The front has gone longest without a write; a serve writes it (to
	// the back, with lastWrite now), hands it to finishWrite (off the
	// list) or ends it (out), so the loop moves on.
	for c := sh.idle.head; c != nil && now.Sub(c.lastWrite) >= sh.p.heartbeat; c = sh.idle.head {
		sh.serve(c, now)
	}
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
// end as cut).
func (sh *shard) cutBlocked() {
	for c := range sh.busy {
		if c.busy.Load() {
			_ = c.nc.SetWriteDeadline(time.Now())
		}
	}
}

// endAll cuts writes still blocked, waits for them, and ends every response.
func (sh *shard) endAll() {
	sh.cutBlocked()
	sh.helpers.Wait()
	sh.mu.Lock()
	left := append(sh.incoming, sh.idle.all()...)
	sh.incoming = nil
	sh.mu.Unlock()
	for c := range sh.busy {
		left = append(left, c)
	}
	for _, c := range left {
		if c.ended {
			continue
		}
		reason := c.failed
		if reason == endNone {
			reason = cmp.Or(endOf(c.sub.Err()), endShutdownCut)
			_, _ = c.tryWrite(lastChunk)
		}
		sh.end(c, reason)
	}
}

// serve takes delivery steps for c until it is up to date, its write is
// queued or it ended; an idle c that has gone a heartbeat without a write
// gets a comment.
func (sh *shard) serve(c *pconn, now time.Time) {
	sh.serves.Add(1)
	if c.busy.Load() {
		return // finishWrite holds the socket; it notifies c when done
	}
	if !c.listed { // new, or back from finishWrite
		delete(sh.busy, c)
		sh.idle.pushBack(c)
	}
	if c.failed != endNone {
		sh.end(c, c.failed)
		return
	}
	if c.gone.Load() {
		sh.end(c, endClientGone)
		return
	}
	sm := &c.sub.stream.m
	out := &sh.out
	*out = pconnSink{sh: sh, c: c, now: now}
	for {
		n, queued, end := step(c.sub, &sh.frames, out)
		c.events += n
		sh.tally.add(sm, n, 0)
		switch {
		case end != endNone:
			if end == endClosed { // every event went out: end the body cleanly
				_, _ = c.tryWrite(lastChunk)
			}
			sh.end(c, end)
			return
		case queued:
			return
		case n == 0:
			if now.Sub(c.lastWrite) >= sh.p.heartbeat {
				if _, end := beat(c.sub, out); end != endNone {
					sh.end(c, end)
				}
			}
			return
		case !c.sub.Pending() && c.sub.Err() == nil:
			return // up to date; an ended subscription takes one more step, which ends it
		}
	}
}

// pconnSink is the sink of a pooled response: one non-blocking write of an
// HTTP chunk; what the socket does not take is copied and finished by a
// goroutine of c's own (queued: c is not to be touched until it clears
// busy).
type pconnSink struct {
	sh  *shard
	c   *pconn
	now time.Time
}

func (o *pconnSink) send(frames [][]byte) (bool, error) {
	sh, c := o.sh, o.c
	sh.buf = appendChunk(sh.buf[:0], frames...)
	n, err := c.tryWrite(sh.buf)
	c.bytes += n
	sh.tally.add(&c.sub.stream.m, 0, n)
	switch {
	case err == nil:
		c.lastWrite = o.now
		sh.idle.moveToBack(c)
		return false, nil
	case errors.Is(err, errWouldBlock):
		c.pending = append([]byte(nil), sh.buf[n:]...)
		c.busy.Store(true)
		sh.idle.remove(c)
		sh.busy[c] = struct{}{}
		sh.p.h.Broker.metrics.blocked.Inc()
		sh.helpers.Add(1)
		go sh.finishWrite(c)
		return true, nil
	}
	return false, err
}

// finishWrite writes c.pending under the write deadline, blocking, then
// gives c back to its shard.
func (sh *shard) finishWrite(c *pconn) {
	defer sh.helpers.Done()
	err := writeWithin(c.nc, c.sub, c.pending, sh.p.timeout, &c.bytes, &sh.p.hurried)
	if err != nil {
		if sh.p.hurried.Load() && errors.Is(err, os.ErrDeadlineExceeded) {
			err = errCut
		}
		c.failed = endOfWrite(c.sub, err)
	}
	c.pending = nil
	c.lastWrite = time.Now()
	sh.p.h.Broker.metrics.blocked.Dec()
	c.busy.Store(false)
	c.notify()
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
		return errCut
	}
	k, err := nc.Write(p)
	*n += k
	sub.stream.m.bytes.Add(float64(k))
	return err
}

// end closes c's socket and subscription, frees its slot and logs it.
func (sh *shard) end(c *pconn, reason endReason) {
	c.ended = true
	sh.idle.remove(c)
	delete(sh.busy, c)
	sh.p.hangups.forget(c)
	_ = c.nc.Close()
	c.sub.Close()
	p := sh.p
	p.h.active.Add(-1)
	p.live.Add(-1)
	p.h.logger().Info("stream closed", "stream", c.sub.stream.name, "remote", c.remote, "reason", reason.String(),
		"duration", time.Since(c.start).Round(time.Millisecond), "events", c.events, "bytes", c.bytes, "pooled", true)
}

// tryWrite writes p with one non-blocking write(2) (Go's sockets are
// non-blocking). It returns errWouldBlock, with what was written, when the
// socket took less than all. It writes to the descriptor directly, not
// through net.Conn or RawConn (whose locks and poller resets cost more than
// the rest of a delivery): that is safe because only the shard closes nc,
// and only after its last write, and finishWrite holds nc alone while busy.
// Where the descriptor cannot be written directly (fd -1: see rawwrite_*.go)
// every write goes to finishWrite.
func (c *pconn) tryWrite(p []byte) (int, error) {
	if c.fd < 0 {
		return 0, errWouldBlock
	}
	n, err := writeFD(c.fd, p)
	n = max(n, 0)
	switch {
	case errors.Is(err, errWouldBlock) || (err == nil && n < len(p)):
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
