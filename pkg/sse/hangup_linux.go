//go:build linux

package sse

import (
	"sync"
	"syscall"
)

// hangups tells a pool's shards which clients closed their end of a pooled
// response, so that its slot is freed at once rather than at its next write.
// One goroutine waits in epoll_wait(2) for the sockets' EPOLLRDHUP (and
// EPOLLHUP, EPOLLERR), as net/http's background read does with a goroutine
// per connection. A nil *hangups watches nothing.
type hangups struct {
	epfd int
	pipe [2]int // a byte on pipe[1] stops run
	done chan struct{}

	mu   sync.Mutex
	byFD map[int32]watched
	gen  int32
}

// watched is a socket being watched; gen tells it from an earlier socket
// that had the same descriptor.
type watched struct {
	c   *pconn
	gen int32
}

// newHangups starts the watcher, or returns nil if the system refuses.
func newHangups() *hangups {
	epfd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return nil
	}
	h := &hangups{epfd: epfd, done: make(chan struct{}), byFD: make(map[int32]watched)}
	if err := syscall.Pipe2(h.pipe[:], syscall.O_CLOEXEC|syscall.O_NONBLOCK); err != nil {
		syscall.Close(epfd)
		return nil
	}
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN, Fd: int32(h.pipe[0])}
	if err := syscall.EpollCtl(epfd, syscall.EPOLL_CTL_ADD, h.pipe[0], &ev); err != nil {
		h.closeFDs()
		return nil
	}
	go h.run()
	return h
}

func (h *hangups) closeFDs() {
	syscall.Close(h.epfd)
	syscall.Close(h.pipe[0])
	syscall.Close(h.pipe[1])
}

// watch starts watching c's socket.
func (h *hangups) watch(c *pconn) {
	if h == nil || c.fd < 0 {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.gen++
	ev := syscall.EpollEvent{Events: syscall.EPOLLRDHUP | syscall.EPOLLONESHOT, Fd: int32(c.fd), Pad: h.gen}
	if syscall.EpollCtl(h.epfd, syscall.EPOLL_CTL_ADD, c.fd, &ev) == nil {
		h.byFD[int32(c.fd)] = watched{c: c, gen: h.gen}
	}
}

// forget stops watching c's socket; call it before closing the socket.
func (h *hangups) forget(c *pconn) {
	if h == nil {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if w, ok := h.byFD[int32(c.fd)]; ok && w.c == c {
		delete(h.byFD, int32(c.fd))
		_ = syscall.EpollCtl(h.epfd, syscall.EPOLL_CTL_DEL, c.fd, nil)
	}
}

func (h *hangups) run() {
	defer close(h.done)
	events := make([]syscall.EpollEvent, 128)
	for {
		n, err := syscall.EpollWait(h.epfd, events, -1)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return
		}
		for _, ev := range events[:n] {
			if ev.Fd == int32(h.pipe[0]) {
				return
			}
			h.mu.Lock()
			w, ok := h.byFD[ev.Fd]
			ok = ok && w.gen == ev.Pad
			h.mu.Unlock()
			if ok {
				w.c.gone.Store(true)
				w.c.notify()
			}
		}
	}
}

// close stops the watcher and waits for it.
func (h *hangups) close() {
	if h == nil {
		return
	}
	_, _ = syscall.Write(h.pipe[1], []byte{1})
	<-h.done
	h.closeFDs()
}
