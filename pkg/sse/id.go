package sse

import (
	"strconv"
	"strings"
	"time"
)

// NewEpoch returns an epoch for a stream that starts now: the time in
// milliseconds since 1970, base 36 (8 characters until the year 2059).
//
// Event IDs are "<epoch>-<seq>" with seq counting from 1, so a process that
// restarts (and so loses a memory-only ring) never hands out an ID an old
// client may still hold for a different event: the new epoch differs, and a
// resume with an ID of another epoch is answered with a reset.
func NewEpoch(now time.Time) string {
	return strconv.FormatInt(now.UnixMilli(), 36)
}

// FormatID returns the event ID of sequence number seq in epoch; with an empty
// epoch the ID is the decimal sequence number alone.
func FormatID(epoch string, seq uint64) string {
	if epoch == "" {
		return strconv.FormatUint(seq, 10)
	}
	return epoch + "-" + strconv.FormatUint(seq, 10)
}

// ParseID returns the sequence number of id if it belongs to epoch.
func ParseID(epoch, id string) (seq uint64, ok bool) {
	if epoch != "" {
		rest, found := strings.CutPrefix(id, epoch+"-")
		if !found {
			return 0, false
		}
		id = rest
	}
	// Digits only: ParseUint would accept "+1"-like forms we never write.
	if id == "" || len(id) > 20 {
		return 0, false
	}
	for i := 0; i < len(id); i++ {
		if id[i] < '0' || id[i] > '9' {
			return 0, false
		}
	}
	seq, err := strconv.ParseUint(id, 10, 64)
	return seq, err == nil && seq > 0
}
