//go:build !unix

package main

// openFileLimit is 0 where the system has no open-file limit to read.
func openFileLimit() int { return 0 }
