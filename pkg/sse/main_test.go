package sse

import (
	"flag"
	"os"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	flag.Parse()
	// Fuzzing runs the tests in worker processes that keep the fuzzer's own
	// goroutines alive: goleak there stalls the workers. Leaks are checked on
	// every ordinary run (go test, go test -race).
	if f := flag.Lookup("test.fuzz"); f != nil && f.Value.String() != "" {
		os.Exit(m.Run())
	}
	goleak.VerifyTestMain(m,
		// github.com/r3labs/sse/v2 leaves one goroutine per connected client
		// blocked for good in (*Subscriber).close when its stream is removed or
		// its server closed: TestCompareCloseWithClientsConnected confirms it.
		// Only goroutines with that function on top are ignored, so the check
		// still covers every goroutine of this package.
		goleak.IgnoreTopFunction("github.com/r3labs/sse/v2.(*Subscriber).close"),
	)
}
