package main

// defaultMaxSubscribers is what the process's open-file limit allows, minus
// headroom for the listener, logs, refused connections and the runtime: one
// twentieth of the limit, at least 64. With the 20,000 limit of our machines
// that is 19,000. Without a limit to read, 1,000.
func defaultMaxSubscribers() int {
	n := openFileLimit()
	if n <= 0 {
		return 1000
	}
	return max(n-max(n/20, 64), 1)
}
