//go:build !unix

package ssetest

import (
	"errors"
	"syscall"
)

// recvBuffer is unix only: elsewhere a dial with Options.RecvBuffer fails.
func recvBuffer(int) func(network, address string, rc syscall.RawConn) error {
	return func(string, string, syscall.RawConn) error {
		return errors.New("ssetest: Options.RecvBuffer is supported on unix only")
	}
}
