package sse

import (
	"bytes"
	"net/http"
	"syscall"
	"time"
)

// handOff serves c's response from the writer pool p. It hijacks the
// connection, writes the response head (chunked, as net/http would), the
// prologue and the replay itself, blocking under the write deadline, then
// gives the socket to a shard for the live events. It reports hijacked
// false, having written nothing, when the connection cannot be hijacked:
// the caller then serves the response itself. With hijacked true, reason is
// empty when the pool took the response, or says why it ended here (the
// socket is closed; the subscription is the caller's to close).
func (c *conn) handOff(r *http.Request, retry time.Duration, p *pool) (hijacked bool, reason string) {
	c.setHeaders(r)
	var head bytes.Buffer
	head.WriteString("HTTP/1.1 200 OK\r\n")
	_ = c.w.Header().Write(&head)
	head.WriteString("Date: " + time.Now().UTC().Format(http.TimeFormat) + "\r\n")
	head.WriteString("Transfer-Encoding: chunked\r\n\r\n")

	nc, _, err := c.rc.Hijack()
	if err != nil {
		return false, ""
	}
	// From here the ResponseController must not be kept: it holds
	// net/http's connection and its buffers.
	c.sub.setOnEvict(func() { _ = nc.SetWriteDeadline(time.Now()) })
	pc := &pconn{nc: nc, fd: -1, sub: c.sub, remote: r.RemoteAddr, start: c.start}
	if sc, ok := nc.(syscall.Conn); ok {
		if rc, err := sc.SyscallConn(); err == nil {
			_ = rc.Control(func(fd uintptr) { pc.fd = int(fd) })
		}
	}
	// end closes the connection before the pool took it; the caller logs
	// the end, with what was counted here.
	end := func(reason string) (bool, string) {
		_ = nc.Close()
		c.events, c.bytes = pc.events, pc.bytes
		return true, reason
	}

	buf := appendChunk(head.Bytes(), c.prologue(r, retry)...)
	frames := make([][]byte, 0, 16)
	for {
		if err := writeWithin(nc, c.sub, buf, p.timeout, &pc.bytes, nil); err != nil {
			return end(pc.failReason(err))
		}
		var err error
		frames, err = c.sub.Next(frames[:0], maxBatch)
		if len(frames) == 0 {
			if err != nil {
				return end(err.Error())
			}
			break
		}
		buf = appendChunk(buf[:0], frames...)
		pc.events += len(frames)
		c.st.m.delivered.Add(float64(len(frames)))
		clear(frames)
		if err != nil { // evicted: what was read goes out first
			_ = writeWithin(nc, c.sub, buf, p.timeout, &pc.bytes, nil)
			return end(err.Error())
		}
	}
	if err := nc.SetWriteDeadline(time.Time{}); err != nil {
		return end(pc.failReason(err))
	}
	pc.lastWrite = time.Now()
	sh := p.pick()
	pc.sh = sh
	c.sub.setWake(sh.wake)
	sh.add(pc)
	return true, ""
}
