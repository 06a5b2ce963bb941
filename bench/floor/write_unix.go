//go:build unix

package main

import "syscall"

// writeFD is one write(2) to a socket's descriptor.
func writeFD(fd int, p []byte) (int, error) { return syscall.Write(fd, p) }
