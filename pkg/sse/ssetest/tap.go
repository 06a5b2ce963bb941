package ssetest

import (
	"bytes"
	"errors"
)

// ErrEnough is what a StopAfter tap ends its stream with.
var ErrEnough = errors.New("ssetest: enough comments")

// StopAfter is a Tap (Options.Tap) that keeps the body as received, in
// Seen, and ends the stream with ErrEnough once N comments have arrived on
// S. Set S to the stream it taps once it is open; it is read by the
// stream's reader only.
type StopAfter struct {
	S    *Stream
	N    int
	Seen bytes.Buffer
}

func (w *StopAfter) Write(p []byte) (int, error) {
	w.Seen.Write(p)
	if w.S.Comments() >= w.N {
		return len(p), ErrEnough
	}
	return len(p), nil
}
