package history

import "errors"

// Sentinel errors of the package.
var (
	// ErrClosed is returned by queries after Close.
	ErrClosed = errors.New("history: store closed")
	// ErrUnavailable is returned by queries the store could not answer
	// for now (JetStream had no responder); the same query may succeed
	// when asked again.
	ErrUnavailable = errors.New("history: store not answering")
)

// RequestError is a query that cannot be answered as asked: Field names
// the parameter (from, to, points) and Problem what is wrong with it.
type RequestError struct {
	Field, Problem string
}

func (e *RequestError) Error() string { return e.Field + ": " + e.Problem }
