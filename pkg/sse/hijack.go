package sse

import (
	"bytes"
	"net"
	"net/http"
	"time"
)

// handOff serves c's response from the writer pool p. It hijacks the
// connection, writes the response head (chunked, as net/http would), the
// prologue and the replay itself, blocking under the write deadline, then
// gives the socket to a shard for the live events. It reports hijacked
// false, having written nothing, when the connection cannot be hijacked:
// the caller then serves the response itself. With hijacked true, reason is
// endNone when the pool took the response, or says why it ended here (the
// socket is closed; the subscription is the caller's to close).
func (c *conn) handOff(r *http.Request, retry time.Duration, p *pool) (hijacked bool, reason endReason) {
	c.setHeaders(r)
	var head bytes.Buffer
	head.WriteString("HTTP/1.1 200 OK\r\n")
	_ = c.w.Header().Write(&head)
	head.WriteString("Date: " + time.Now().UTC().Format(http.TimeFormat) + "\r\n")
	head.WriteString("Transfer-Encoding: chunked\r\n\r\n")

	nc, _, err := c.rc.Hijack()
	if err != nil {
		return false, endNone
	}
	// From here the ResponseController must not be kept: it holds
	// net/http's connection and its buffers.
	c.sub.setOnEvict(func() { _ = nc.SetWriteDeadline(time.Now()) })
	pc := &pconn{nc: nc, fd: connFD(nc), sub: c.sub, remote: r.RemoteAddr, start: c.start}
	out := &blockingSink{nc: nc, sub: c.sub, timeout: p.timeout, n: &pc.bytes}
	// end closes the connection before the pool took it; the caller logs
	// the end, with what was counted here.
	end := func(reason endReason) (bool, endReason) {
		if reason == endClosed { // every event went out: end the body cleanly
			if len(out.buf) > 0 {
				_, _ = out.write(out.buf)
			}
			_, _ = out.write(lastChunk)
		}
		_ = nc.Close()
		c.events, c.bytes = pc.events, pc.bytes
		return true, reason
	}

	// The head and the prologue go out with the first events.
	out.buf = appendChunk(head.Bytes(), c.prologue(r, retry)...)
	frames := make([][]byte, 0, 16)
	for {
		n, _, reason := step(c.sub, &frames, out)
		pc.events += n
		c.st.m.delivered.Add(float64(n))
		if reason != endNone {
			return end(reason)
		}
		if n == 0 {
			break
		}
	}
	if len(out.buf) > 0 { // nothing to replay: the head and prologue alone
		if _, err := out.write(out.buf); err != nil {
			return end(endOfWrite(c.sub, err))
		}
	}
	if err := nc.SetWriteDeadline(time.Time{}); err != nil {
		return end(endOfWrite(c.sub, err))
	}
	pc.lastWrite = time.Now()
	p.pick().add(pc)
	return true, endNone
}

// blockingSink writes a hijacked response's replay as HTTP chunks, blocking
// under the write deadline. What is in buf (the response head) goes out
// before the first frames.
type blockingSink struct {
	nc      net.Conn
	sub     *Subscription
	timeout time.Duration
	n       *int
	buf     []byte
}

func (s *blockingSink) send(frames [][]byte) (bool, error) {
	s.buf = appendChunk(s.buf, frames...)
	_, err := s.write(s.buf)
	s.buf = s.buf[:0]
	return false, err
}

func (s *blockingSink) write(p []byte) (bool, error) {
	return false, writeWithin(s.nc, s.sub, p, s.timeout, s.n, nil)
}
