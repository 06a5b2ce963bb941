package sse

// ResetReason says why a resume point could not be honoured; it is the
// "reason" of a reset event.
type ResetReason string

// Reset reasons.
const (
	// ResetExpired: the resume point is older than the ring retains.
	ResetExpired ResetReason = "expired"
	// ResetUnknown: the resume point is malformed, of another epoch (the
	// server restarted with a memory-only store) or not yet published.
	ResetUnknown ResetReason = "unknown"
)

// endReason says why a streamed response ended. Every delivery path (the
// writer pool, the goroutine of an HTTP/2, TLS or HTTP/1.0 response, the
// replay before a hand-off) reports one of these, decided in one place
// (endOf and endOfWrite in deliver.go); String is what the log says.
type endReason uint8

const (
	endNone         endReason = iota // still streaming
	endClientGone                    // the client closed the connection, or a write to it failed
	endSlow                          // evicted: too many unread events, or unread events left the ring
	endWriteTimeout                  // a write missed the write deadline
	endClosed                        // the stream closed (shutdown) and every event was sent
	endShutdownCut                   // shutdown cut a write blocked on the client
	endPanic                         // the handler panicked
)

var endReasons = [...]string{
	endNone:         "none",
	endClientGone:   "client gone",
	endSlow:         "too slow",
	endWriteTimeout: "write timeout",
	endClosed:       "stream closed",
	endShutdownCut:  "shutdown cut",
	endPanic:        "panic",
}

func (r endReason) String() string {
	if int(r) < len(endReasons) {
		return endReasons[r]
	}
	return "unknown"
}
