// Command tempstream serves live temperature readings over Server-Sent
// Events: a page at /temperature, the stream at /events. See --help.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
)

func main() {
	err := run(context.Background(), os.Args, os.Getenv, os.Stdout, os.Stderr)
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
	case errors.As(err, new(usageError)):
		fmt.Fprintln(os.Stderr, "tempstream:", err)
		os.Exit(2)
	default:
		fmt.Fprintln(os.Stderr, "tempstream:", err)
		os.Exit(1)
	}
}
