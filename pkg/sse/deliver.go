package sse

import (
	"errors"
	"os"
)

// maxBatch is how many frames one delivery step takes at most.
const maxBatch = 256

// heartbeatFrame is the comment sent on an idle stream.
var heartbeatFrame = AppendComment(nil, "heartbeat")

// heartbeat is heartbeatFrame as a sink's frames.
var heartbeat = [][]byte{heartbeatFrame}

// A sink is where a response's delivery steps write: net/http's
// ResponseWriter (conn, for HTTP/2, TLS and HTTP/1.0), a hijacked socket
// written blocking under the write deadline (the replay before a hand-off),
// or a pooled socket written without blocking (pconnSink).
type sink interface {
	// send writes frames, flushed, as one write. queued reports that part
	// of it is still to go out (the pool finishes it on another
	// goroutine, and the response is not to be touched until then); an
	// error ends the response (endOfWrite says why).
	send(frames [][]byte) (queued bool, err error)
}

// step is the one delivery step of every response: it takes up to maxBatch
// of sub's unread events and sends them to out. It returns how many went
// out (0: sub is up to date), whether the write was queued, and why the
// response must end (endNone: it goes on). frames is scratch space, kept
// between steps; step clears what it put there, so the ring can drop frames
// no response still needs.
//
// An evicted subscriber's last frames go out before it ends; a closed
// stream's response ends once every event published before the close went
// out (endClosed).
func step(sub *Subscription, frames *[][]byte, out sink) (n int, queued bool, end endReason) {
	fr, err := sub.Next((*frames)[:0], maxBatch)
	if len(fr) == 0 {
		*frames = fr
		if err == nil {
			err = sub.Err()
		}
		return 0, false, endOf(err)
	}
	queued, werr := out.send(fr)
	n = len(fr)
	clear(fr)
	*frames = fr[:0]
	switch {
	case werr != nil:
		return n, false, endOfWrite(sub, werr)
	case err != nil && !queued: // evicted: what was read went out first
		return n, false, endOf(err)
	}
	return n, queued, endNone // a queued write's eviction is found at the next step
}

// beat sends a heartbeat to out, and says why the response must end if it
// failed.
func beat(sub *Subscription, out sink) (queued bool, end endReason) {
	sub.stream.m.heartbeats.Inc()
	queued, err := out.send(heartbeat)
	if err != nil {
		return false, endOfWrite(sub, err)
	}
	return queued, endNone
}

// endOf is the end reason of a subscription's error.
func endOf(err error) endReason {
	switch err {
	case nil:
		return endNone
	case ErrSlow:
		return endSlow
	case ErrClosed:
		return endClosed
	}
	return endClientGone
}

// endOfWrite says why a failed write ends sub's response: its eviction as
// slow (which forces the deadline), a shutdown's cut, a missed write
// deadline (counted), or else the client went away.
func endOfWrite(sub *Subscription, err error) endReason {
	switch {
	case sub.Err() == ErrSlow:
		return endSlow
	case errors.Is(err, errCut):
		return endShutdownCut
	case errors.Is(err, os.ErrDeadlineExceeded):
		sub.stream.m.droppedWrite.Inc()
		return endWriteTimeout
	}
	return endClientGone
}
