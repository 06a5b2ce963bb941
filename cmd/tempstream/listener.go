package main

import "net"

// sndbufListener sets the kernel send buffer of every accepted TCP
// connection. A small buffer bounds how much a client that stopped reading
// can hold in the kernel, so it is found slow (and evicted, to resume from
// the ring) sooner; like nginx's "listen … sndbuf=".
type sndbufListener struct {
	net.Listener
	size int
}

func (l sndbufListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if tc, ok := c.(*net.TCPConn); ok && err == nil {
		_ = tc.SetWriteBuffer(l.size)
	}
	return c, err
}
