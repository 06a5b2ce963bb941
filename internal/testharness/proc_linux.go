package testharness

import "syscall"

// procAttr: SIGTERM when the test process dies, and a group of its own.
func procAttr(group bool) *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: group, Pdeathsig: syscall.SIGTERM}
}
