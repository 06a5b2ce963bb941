//go:build unix

package main

import "syscall"

// openFileLimit is the process's open-file limit (Go raises the soft limit
// to the hard one at start), or 0 when it cannot be read.
func openFileLimit() int {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0
	}
	return int(min(lim.Cur, 1<<30))
}
