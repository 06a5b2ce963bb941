//go:build unix && !linux

package testharness

import "syscall"

// procAttr: a group of its own (there is no Pdeathsig here).
func procAttr(group bool) *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: group}
}
