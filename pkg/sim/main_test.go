package sim

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package if any test leaves a goroutine behind (for
// example a Run that never returned).
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
