package sse

import (
	"bytes"
	"strconv"
	"time"
)

// Event is one server-sent event as written on the wire.
//
// An empty Type is written without an "event:" line, which clients dispatch as
// "message". Data may hold any bytes: CR, LF and CRLF split it into several
// "data:" lines, which clients join again with LF (so CRLF and lone CR arrive
// as LF). Empty Data is written as one empty "data:" line, which clients
// dispatch as an event with empty data.
type Event struct {
	ID   string
	Type string
	Data []byte
}

func hasBreak(s string) bool {
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\r', '\n', 0:
			return true
		}
	}
	return false
}

// Validate reports whether e can be written without breaking the framing.
func (e Event) Validate() error {
	if hasBreak(e.ID) {
		return ErrInvalidID
	}
	if hasBreak(e.Type) {
		return ErrInvalidType
	}
	return nil
}

// AppendEvent appends the wire form of e, ending with the blank line that
// dispatches it, to dst. It refuses an ID or type that would break the framing
// and then appends nothing. It does not allocate when dst has room.
func AppendEvent(dst []byte, e Event) ([]byte, error) {
	if err := e.Validate(); err != nil {
		return dst, err
	}
	if e.ID != "" {
		dst = append(dst, "id: "...)
		dst = append(dst, e.ID...)
		dst = append(dst, '\n')
	}
	if e.Type != "" {
		dst = append(dst, "event: "...)
		dst = append(dst, e.Type...)
		dst = append(dst, '\n')
	}
	dst = appendLines(dst, "data: ", e.Data)
	return append(dst, '\n'), nil
}

// appendLines writes data as prefix-led lines, splitting at CRLF, CR and LF.
func appendLines(dst []byte, prefix string, data []byte) []byte {
	for {
		i := bytes.IndexAny(data, "\r\n")
		dst = append(dst, prefix...)
		if i < 0 {
			dst = append(dst, data...)
			return append(dst, '\n')
		}
		dst = append(dst, data[:i]...)
		dst = append(dst, '\n')
		if data[i] == '\r' && i+1 < len(data) && data[i+1] == '\n' {
			i++
		}
		data = data[i+1:]
	}
}

// AppendComment appends text as comment lines (": text"), followed by a blank
// line. Comments are ignored by clients; they keep idle connections open
// through proxies. Newlines in text start new comment lines, so nothing in
// text can become a field.
func AppendComment(dst []byte, text string) []byte {
	dst = appendLines(dst, ": ", []byte(text))
	return append(dst, '\n')
}

// AppendRetry appends a "retry:" field telling the client how long to wait
// before reconnecting, in whole milliseconds, followed by a blank line.
// Durations below 1ms are written as 0.
func AppendRetry(dst []byte, d time.Duration) []byte {
	ms := max(d.Milliseconds(), 0)
	dst = append(dst, "retry: "...)
	dst = strconv.AppendInt(dst, ms, 10)
	return append(dst, '\n', '\n')
}
