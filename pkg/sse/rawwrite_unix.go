//go:build unix

package sse

import (
	"net"
	"syscall"
)

// connFD returns nc's descriptor, for the writer pool's direct writes, or -1.
func connFD(nc net.Conn) int {
	fd := -1
	if sc, ok := nc.(syscall.Conn); ok {
		if rc, err := sc.SyscallConn(); err == nil {
			_ = rc.Control(func(f uintptr) { fd = int(f) })
		}
	}
	return fd
}

// writeFD is one non-blocking write(2) to fd (Go's sockets are
// non-blocking); a socket that takes nothing now is errWouldBlock.
func writeFD(fd int, p []byte) (int, error) {
	for {
		n, err := syscall.Write(fd, p)
		switch err {
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			return max(n, 0), errWouldBlock
		}
		return n, err
	}
}
