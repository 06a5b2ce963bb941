package history

import "errors"

// Sentinel errors of the package.
var (
	// ErrClosed is returned by queries after Close.
	ErrClosed = errors.New("history: store closed")
)
