package sse

import (
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// github.com/r3labs/sse/v2 leaves one goroutine per connected client
		// blocked for good in (*Subscriber).close when its stream is removed or
		// its server closed: TestCompareCloseWithClientsConnected confirms it.
		// Only goroutines with that function on top are ignored, so the check
		// still covers every goroutine of this package.
		goleak.IgnoreTopFunction("github.com/r3labs/sse/v2.(*Subscriber).close"),
	)
}
