//go:build unix

package main

import "syscall"

// setRcvBuf sets the receive buffer of the socket behind rc (a stalled
// client's small window).
func setRcvBuf(rc syscall.RawConn, size int) error {
	var serr error
	_ = rc.Control(func(fd uintptr) {
		serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, size)
	})
	return serr
}

// raiseNoFile lifts the soft open-file limit to the hard one and returns it.
func raiseNoFile() (uint64, error) {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		return 0, err
	}
	if rl.Cur < rl.Max {
		rl.Cur = rl.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
			return rl.Cur, err
		}
	}
	return rl.Cur, nil
}
