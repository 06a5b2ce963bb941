package main

import (
	"bytes"
	"time"
)

var atKey = []byte(`"at":"`)

// parseAt finds the "at" field of a reading's JSON data and returns it as
// Unix milliseconds. The usual form, "2006-01-02T15:04:05.000Z" (24 bytes),
// is decoded by hand without allocating; any other RFC 3339 form goes
// through time.Parse.
func parseAt(data []byte) (int64, bool) {
	i := bytes.Index(data, atKey)
	if i < 0 {
		return 0, false
	}
	s := data[i+len(atKey):]
	end := bytes.IndexByte(s, '"')
	if end < 0 {
		return 0, false
	}
	s = s[:end]
	if ms, ok := parseMillisUTC(s); ok {
		return ms, true
	}
	t, err := time.Parse(time.RFC3339Nano, string(s))
	if err != nil {
		return 0, false
	}
	return t.UnixMilli(), true
}

// parseMillisUTC decodes exactly "YYYY-MM-DDThh:mm:ss.mmmZ".
func parseMillisUTC(s []byte) (int64, bool) {
	if len(s) != 24 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' ||
		s[16] != ':' || s[19] != '.' || s[23] != 'Z' {
		return 0, false
	}
	num := func(b []byte) (int64, bool) {
		var n int64
		for _, c := range b {
			if c < '0' || c > '9' {
				return 0, false
			}
			n = n*10 + int64(c-'0')
		}
		return n, true
	}
	y, ok1 := num(s[0:4])
	mo, ok2 := num(s[5:7])
	d, ok3 := num(s[8:10])
	h, ok4 := num(s[11:13])
	mi, ok5 := num(s[14:16])
	se, ok6 := num(s[17:19])
	ms, ok7 := num(s[20:23])
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6 && ok7) || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 60 {
		return 0, false
	}
	return ((daysFromCivil(y, mo, d)*24+h)*60+mi)*60000 + se*1000 + ms, true
}

// daysFromCivil is the number of days since 1970-01-01 of a proleptic
// Gregorian date (Howard Hinnant's algorithm).
func daysFromCivil(y, m, d int64) int64 {
	if m <= 2 {
		y--
	}
	era := y / 400
	if y < 0 && y%400 != 0 {
		era--
	}
	yoe := y - era*400
	mp := (m + 9) % 12
	doy := (153*mp+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return era*146097 + doe - 719468
}

// splitID splits an event ID into an opaque prefix and its numeric suffix
// (the trailing decimal digits, at most 18): tempstream's "<epoch>-<seq>"
// gives ("<epoch>-", seq); r3labs' "17" gives ("", 17). ok is false when the
// ID does not end in a digit: such IDs are treated as opaque.
func splitID(id []byte) (prefix []byte, seq uint64, ok bool) {
	i := len(id)
	for i > 0 && id[i-1] >= '0' && id[i-1] <= '9' && len(id)-i < 18 {
		i--
	}
	if i == len(id) {
		return id, 0, false
	}
	for _, c := range id[i:] {
		seq = seq*10 + uint64(c-'0')
	}
	return id[:i], seq, true
}

// idTracker follows one client's event IDs and counts gaps (lost events),
// repeats (duplicates, or any step backwards) and changes of prefix (a
// server's new epoch after a restart).
type idTracker struct {
	prefix  []byte
	last    uint64
	have    bool
	Lost    uint64
	Dup     uint64
	Epochs  uint64 // prefix changes after the first ID
	Opaque  uint64 // IDs without a numeric suffix
	LastRaw []byte // the last ID seen, sent back as Last-Event-ID
}

// See records the ID of one received event.
func (t *idTracker) See(id []byte) {
	if len(id) == 0 {
		return
	}
	t.LastRaw = append(t.LastRaw[:0], id...)
	prefix, seq, ok := splitID(id)
	if !ok {
		t.Opaque++
		return
	}
	switch {
	case !t.have:
		t.have = true
	case !bytes.Equal(prefix, t.prefix):
		t.Epochs++
	case seq == t.last+1:
	case seq > t.last+1:
		t.Lost += seq - t.last - 1
	default:
		t.Dup++
		return // keep the highest seen as the reference
	}
	t.prefix = append(t.prefix[:0], prefix...)
	t.last = seq
}
