package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http/httputil"
	"strconv"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/tempstream/tempstream/pkg/sse"
)

// target is the parsed URL to load.
type target struct {
	hostport string // dial address
	host     string // Host header
	path     string // path and query
}

// request returns the GET of one subscriber.
func (t target) request(lastEventID []byte) []byte { return t.requestPath(t.path, lastEventID) }

// requestPath returns the GET of one subscriber for path (the URL's path
// with the subscriber's own query, such as its ?sensor= filter).
func (t target) requestPath(path string, lastEventID []byte) []byte {
	b := make([]byte, 0, 192)
	b = append(b, "GET "...)
	b = append(b, path...)
	b = append(b, " HTTP/1.1\r\nHost: "...)
	b = append(b, t.host...)
	b = append(b, "\r\nAccept: text/event-stream\r\nCache-Control: no-cache\r\nUser-Agent: ssebench\r\n"...)
	if len(lastEventID) > 0 {
		b = append(b, "Last-Event-ID: "...)
		b = append(b, lastEventID...)
		b = append(b, "\r\n"...)
	}
	return append(b, "\r\n"...)
}

// respHead is what the load tool needs of a response head.
type respHead struct {
	status      int
	contentType string
	chunked     bool
}

var errNotSSE = errors.New("not a text/event-stream 200 response")

// readHead reads a response's status line and header fields.
func readHead(br *bufio.Reader) (respHead, error) {
	var h respHead
	line, err := br.ReadSlice('\n')
	if err != nil {
		return h, fmt.Errorf("status line: %w", err)
	}
	// "HTTP/1.1 200 OK"
	f := bytes.Fields(line)
	if len(f) < 2 || !bytes.HasPrefix(f[0], []byte("HTTP/1.")) {
		return h, fmt.Errorf("bad status line %q", bytes.TrimSpace(line))
	}
	if h.status, err = strconv.Atoi(string(f[1])); err != nil {
		return h, fmt.Errorf("bad status line %q", bytes.TrimSpace(line))
	}
	for {
		line, err := br.ReadSlice('\n')
		if err != nil {
			return h, fmt.Errorf("header: %w", err)
		}
		line = bytes.TrimRight(line, "\r\n")
		if len(line) == 0 {
			return h, nil
		}
		k, v, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			continue
		}
		v = bytes.TrimSpace(v)
		switch {
		case bytes.EqualFold(k, []byte("Content-Type")):
			h.contentType = string(v)
		case bytes.EqualFold(k, []byte("Transfer-Encoding")):
			h.chunked = bytes.Contains(bytes.ToLower(v), []byte("chunked"))
		}
	}
}

// client is one subscriber; fields are owned by its goroutine.
type client struct {
	r       *runner
	idx     int
	stalled bool
	path    string    // request path and query; empty: the URL's
	got     *received // with a poster: every ID received, for the loss count
	since   int64     // with a poster: Unix ns when the first stream's head arrived
	ids     idTracker
	conn    atomic.Pointer[net.TCPConn]
	retry   time.Duration
	// counts not yet added to the runner's totals
	pendEvents, pendBacklog uint64
}

// flush adds the client's pending counts to the totals.
func (c *client) flush() {
	if c.pendEvents > 0 {
		c.r.events.Add(c.pendEvents)
		c.pendEvents = 0
	}
	if c.pendBacklog > 0 {
		c.r.backlog.Add(c.pendBacklog)
		c.pendBacklog = 0
	}
}

// run keeps the subscriber connected until the runner stops, reconnecting
// (with Last-Event-ID) after any end of stream.
func (c *client) run(first func(ok bool)) {
	for attempt := 0; ; attempt++ {
		err := c.session(first)
		first = nil
		if c.r.stopping.Load() {
			return
		}
		c.r.noteErr(err)
		c.r.disconnects.Add(1)
		if !c.r.cfg.Reconnect {
			return
		}
		delay := c.r.cfg.ReconnectDelay
		if delay < 0 { // follow the server's retry:, capped
			delay = min(c.retry, 5*time.Second)
		}
		select {
		case <-time.After(delay):
		case <-c.r.stop:
			return
		}
		c.r.reconnects.Add(1)
	}
}

// session is one connection: dial, request, stream until it ends.
func (c *client) session(first func(ok bool)) (err error) {
	r := c.r
	connected := false
	defer func() {
		if first != nil {
			first(connected)
		}
	}()
	d := net.Dialer{Timeout: 10 * time.Second, LocalAddr: r.localAddr(c.idx)}
	if c.stalled && r.cfg.StallRcvBuf > 0 {
		size := r.cfg.StallRcvBuf
		d.Control = func(_, _ string, rc syscall.RawConn) error { return setRcvBuf(rc, size) }
	}
	start := time.Now()
	nc, err := d.Dial("tcp", r.target.hostport)
	if err != nil {
		r.dialErrors.Add(1)
		return err
	}
	tc := nc.(*net.TCPConn)
	c.conn.Store(tc)
	defer func() {
		c.conn.Store(nil)
		tc.Close()
		r.connected.Add(-1)
	}()
	r.connected.Add(1)
	if r.stopping.Load() {
		return nil
	}
	path := c.path
	if path == "" {
		path = r.target.path
	}
	if _, err := tc.Write(r.target.requestPath(path, c.ids.LastRaw)); err != nil {
		return err
	}
	br := bufio.NewReaderSize(tc, r.cfg.BufSize)
	head, err := readHead(br)
	if err != nil {
		r.httpErrors.Add(1)
		return err
	}
	if head.status != 200 || !bytes.HasPrefix([]byte(head.contentType), []byte("text/event-stream")) {
		r.httpErrors.Add(1)
		return fmt.Errorf("%w: %d %q", errNotSSE, head.status, head.contentType)
	}
	if c.got != nil && c.since == 0 {
		c.since = time.Now().UnixNano() // subscribed: the server writes the head after that
	}
	r.connectTime.Record(time.Since(start))
	r.newConns.Add(1)
	connected = true
	if first != nil {
		first(true)
		first = nil
	}
	var body io.Reader = br
	var pbr *bufio.Reader = br
	if head.chunked {
		body = httputil.NewChunkedReader(br)
		pbr = bufio.NewReaderSize(body, r.cfg.BufSize)
	}
	var p parser
	if r.cfg.Parser == "spec" {
		p = specParser{sse.NewReader(body, 0)}
	} else {
		p = newFastParser(pbr)
	}
	startMS := start.UnixMilli()
	gotFirst := false
	for {
		ev, err := p.Next()
		if err != nil {
			c.flush()
			if ms := p.Retry(); ms > 0 {
				c.retry = time.Duration(ms) * time.Millisecond
			}
			if errors.Is(err, net.ErrClosed) {
				return nil
			}
			return err
		}
		now := time.Now()
		if !gotFirst {
			gotFirst = true
			r.firstEvent.Record(now.Sub(start))
			if c.stalled {
				c.flush()
				return c.stall(tc)
			}
		}
		if r.onEvent != nil {
			r.onEvent(ev)
		}
		if string(ev.Type) == "reset" {
			r.resets.Add(1)
			continue
		}
		c.ids.See(ev.ID)
		if c.got != nil {
			c.got.see(ev.ID)
		}
		if c.ids.have && c.ids.last > 0 {
			r.noteSeq(c.ids.last)
		}
		if at, ok := parseAt(ev.Data); ok && at >= startMS {
			lat := now.Sub(time.UnixMilli(at))
			r.latency.Record(lat)
			r.window.Record(lat)
			if r.steady.Load() {
				r.steadyLat.Record(lat)
			}
			c.pendEvents++
		} else if ok {
			c.pendBacklog++ // taken before this connection: replayed or the latest-on-connect
		} else {
			c.pendEvents++
			r.noAt.Add(1)
		}
		if br.Buffered() == 0 && (pbr == br || pbr.Buffered() == 0) {
			c.flush()
		}
	}
}

// stall holds the connection without reading until the run stops, then
// reports whether the server had closed it (it drains what is buffered
// for up to two seconds, and an end of stream within them means closed).
func (c *client) stall(tc *net.TCPConn) error {
	r := c.r
	r.stalledNow.Add(1)
	<-r.stop
	_ = tc.SetReadDeadline(time.Now().Add(2 * time.Second))
	buf := make([]byte, 32<<10)
	for {
		if _, err := tc.Read(buf); err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				r.stalledOpen.Add(1)
			} else {
				r.stalledClosed.Add(1)
			}
			return nil
		}
	}
}
