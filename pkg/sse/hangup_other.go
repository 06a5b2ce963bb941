//go:build !linux

package sse

// hangups is Linux's epoll watcher of closed clients; elsewhere a pooled
// client that leaves is noticed at its next write (event or heartbeat).
type hangups struct{}

func newHangups() *hangups         { return nil }
func (h *hangups) watch(c *pconn)  {}
func (h *hangups) forget(c *pconn) {}
func (h *hangups) close()          {}
