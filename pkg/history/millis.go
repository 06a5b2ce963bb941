package history

import "time"

// Times and widths in milliseconds since the epoch, the unit of the
// package's arithmetic (readings are taken to the millisecond).
const (
	second = int64(time.Second / time.Millisecond)
	minute = int64(time.Minute / time.Millisecond)
	hour   = int64(time.Hour / time.Millisecond)
)

// floorDiv is a/b rounded down (b > 0), so buckets before 1970 align too.
func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

// ceilDiv is a/b rounded up (b > 0).
func ceilDiv(a, b int64) int64 { return -floorDiv(-a, b) }
