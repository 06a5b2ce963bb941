package main

import (
	"context"
	"errors"
	"io"
)

// runWatch follows a stream and prints its readings. (Being written.)
func runWatch(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	return errors.New("watch: not implemented yet")
}
