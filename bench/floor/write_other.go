//go:build !unix

package main

import "errors"

// writeFD: the floor writes descriptors directly on Unix only.
func writeFD(int, []byte) (int, error) { return 0, errors.New("floor: direct writes need Unix") }
