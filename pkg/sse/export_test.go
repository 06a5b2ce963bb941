package sse

// Pooled is the number of responses the writer pool holds, for the
// external tests (package sse_test).
func (h *Handler) Pooled() int { return h.pooled() }
