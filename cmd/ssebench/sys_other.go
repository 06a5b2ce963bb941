//go:build !unix

package main

import (
	"errors"
	"syscall"
)

// errUnsupported: the load tool measures Linux servers (it reads /proc);
// elsewhere it builds, and these parts refuse.
var errUnsupported = errors.New("not supported on this system")

func setRcvBuf(syscall.RawConn, int) error { return errUnsupported }

func raiseNoFile() (uint64, error) { return 0, errUnsupported }
