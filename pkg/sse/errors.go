package sse

import "errors"

// Sentinel errors of the package, in one place.
var (
	// ErrInvalidID is returned for an event ID containing CR, LF or NUL: it
	// would break the framing, or be ignored by browsers.
	ErrInvalidID = errors.New("sse: event id contains CR, LF or NUL")
	// ErrInvalidType is returned for an event type containing CR, LF or NUL.
	ErrInvalidType = errors.New("sse: event type contains CR, LF or NUL")

	// ErrClosed is returned by Publish and Subscribe after Close, and by
	// Subscription.Err when the stream closed under a subscriber.
	ErrClosed = errors.New("sse: stream closed")
	// ErrTooManyKeys is returned by PublishBatch for a batch whose new keys
	// would take the stream past its MaxKeys.
	ErrTooManyKeys = errors.New("sse: too many keys")
	// ErrBatchTooLarge is returned by PublishBatch for more than MaxBatch
	// messages.
	ErrBatchTooLarge = errors.New("sse: batch too large for the stream's retention")
	// ErrNotEmpty is returned by SetEpoch for a stream that already has events.
	ErrNotEmpty = errors.New("sse: stream already has events")
	// ErrSlow is Subscription.Err for a subscriber evicted because its
	// backlog of live events passed its queue limit, or because events it
	// had not read yet left the ring.
	ErrSlow = errors.New("sse: subscriber too slow")
)

// errCut is a write that a shutdown in a hurry cut (internal: it ends a
// response as endShutdownCut).
var errCut = errors.New("sse: write cut by shutdown")
