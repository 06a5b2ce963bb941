package sse

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"strconv"
	"time"
)

// ErrLineTooLong is returned by Reader.Next for a line longer than the
// reader's limit.
var ErrLineTooLong = errors.New("sse: line too long")

// Received is one event as a client dispatches it, following the WHATWG
// event-stream interpretation rules.
type Received struct {
	// LastEventID is the reader's last event ID buffer when the event was
	// dispatched: the event's own "id:" field or the one carried over from
	// an earlier event.
	LastEventID string
	// Type is the event type, "message" when the event named none.
	Type string
	// Data is the data buffer, lines joined with LF.
	Data []byte
}

// Reader parses a text/event-stream the way a browser's EventSource does.
// Comments, "retry:" fields and unknown fields are consumed; Retry and
// Comments report the last ones seen. Not safe for concurrent use.
type Reader struct {
	br          *bufio.Reader
	max         int
	started     bool // the optional BOM has been handled
	afterCR     bool // the last line ended in CR: a following LF belongs to it
	lastEventID string
	retry       time.Duration
	comments    int
}

// NewReader returns a Reader of r that refuses lines longer than maxLine bytes
// (0 means 1 MiB).
func NewReader(r io.Reader, maxLine int) *Reader {
	if maxLine <= 0 {
		maxLine = 1 << 20
	}
	return &Reader{br: bufio.NewReader(r), max: maxLine}
}

// Retry is the reconnection time from the last valid "retry:" field, or 0.
func (r *Reader) Retry() time.Duration { return r.retry }

// Comments counts the comment lines read so far.
func (r *Reader) Comments() int { return r.comments }

// LastEventID is the last event ID buffer.
func (r *Reader) LastEventID() string { return r.lastEventID }

// line reads one line without its terminator (CR, LF or CRLF).
func (r *Reader) line() ([]byte, error) {
	var out []byte
	for {
		b, err := r.br.ReadByte()
		if err != nil {
			return nil, err
		}
		if r.afterCR {
			r.afterCR = false
			if b == '\n' {
				continue
			}
		}
		switch b {
		case '\n':
			return out, nil
		case '\r':
			r.afterCR = true
			return out, nil
		}
		if len(out) >= r.max {
			return nil, ErrLineTooLong
		}
		out = append(out, b)
	}
}

// Next reads until the next event is dispatched and returns it. Events with
// an empty data buffer are not dispatched, as in browsers. At the end of the
// stream it returns io.EOF (a final event without its blank line is dropped,
// as the spec requires, and so is a partial line).
func (r *Reader) Next() (Received, error) {
	var (
		data    []byte
		hasData bool
		typ     string
	)
	for {
		line, err := r.line()
		if err != nil {
			if err == io.EOF {
				return Received{}, io.EOF
			}
			return Received{}, err
		}
		if !r.started {
			r.started = true
			line = bytes.TrimPrefix(line, []byte("\xEF\xBB\xBF"))
		}
		if len(line) == 0 { // dispatch
			if !hasData {
				typ = ""
				continue
			}
			data = bytes.TrimSuffix(data, []byte("\n"))
			if typ == "" {
				typ = "message"
			}
			return Received{LastEventID: r.lastEventID, Type: typ, Data: data}, nil
		}
		if line[0] == ':' {
			r.comments++
			continue
		}
		field, value := line, []byte(nil)
		if i := bytes.IndexByte(line, ':'); i >= 0 {
			field, value = line[:i], line[i+1:]
			value = bytes.TrimPrefix(value, []byte(" "))
		}
		switch string(field) {
		case "event":
			typ = string(value)
		case "data":
			data = append(data, value...)
			data = append(data, '\n')
			hasData = true
		case "id":
			if bytes.IndexByte(value, 0) < 0 {
				r.lastEventID = string(value)
			}
		case "retry":
			if ms, ok := digits(value); ok {
				r.retry = time.Duration(ms) * time.Millisecond
			}
		}
	}
}

func digits(b []byte) (int64, bool) {
	if len(b) == 0 {
		return 0, false
	}
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseInt(string(b), 10, 64)
	return n, err == nil
}
