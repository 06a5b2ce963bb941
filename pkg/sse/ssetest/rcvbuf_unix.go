//go:build unix

package ssetest

import "syscall"

// recvBuffer sets SO_RCVBUF to n on a socket before it connects.
func recvBuffer(n int) func(network, address string, rc syscall.RawConn) error {
	return func(_, _ string, rc syscall.RawConn) error {
		var err error
		if cerr := rc.Control(func(fd uintptr) {
			err = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, n)
		}); cerr != nil {
			return cerr
		}
		return err
	}
}
