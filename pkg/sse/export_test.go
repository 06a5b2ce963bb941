package sse

// Pooled is the number of responses the writer pool holds, for the
// external tests (package sse_test).
func (h *Handler) Pooled() int { return h.pooled() }

// Serves is how many delivery visits the writer pool made to its responses,
// for the tests of the fan-out's cost.
func (h *Handler) Serves() int64 {
	h.poolMu.Lock()
	defer h.poolMu.Unlock()
	if h.pool == nil {
		return 0
	}
	return h.pool.serves()
}

// Active is how many responses are being streamed now.
func (h *Handler) Active() int { return int(h.active.Load()) }
