//go:build !unix

package sse

import "net"

// connFD returns -1 where sockets cannot be written directly: every pooled
// write then goes through finishWrite (net.Conn.Write under the deadline).
func connFD(net.Conn) int { return -1 }

// writeFD is never called with connFD's -1 (tryWrite checks).
func writeFD(int, []byte) (int, error) { return 0, errWouldBlock }
