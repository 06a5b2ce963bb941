package main

import "syscall"

// defaultMaxSubscribers is what the process's open-file limit allows, minus
// headroom for the listener, logs, refused connections and the runtime: one
// twentieth of the limit, at least 64. With the 20,000 limit of our machines
// that is 19,000. (Go raises the soft limit to the hard one at start.)
func defaultMaxSubscribers() int {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil || lim.Cur == 0 {
		return 1000
	}
	n := int(min(lim.Cur, 1<<30))
	return max(n-max(n/20, 64), 1)
}
