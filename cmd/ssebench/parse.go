package main

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"strconv"

	"github.com/tempstream/tempstream/pkg/sse"
)

// event is one dispatched event. Its slices are valid until the next call
// to the parser that returned it.
type event struct {
	ID   []byte // the last event ID buffer
	Type []byte // "message" when the event named none
	Data []byte
}

// parser reads events from a text/event-stream.
type parser interface {
	Next() (event, error)
	// Retry is the last "retry:" in milliseconds, or 0.
	Retry() int64
}

var errLineTooLong = errors.New("ssebench: line longer than the read buffer")

// fastParser is an allocation-free event-stream parser for the load tool:
// lines come straight out of the bufio.Reader (ReadSlice), so a line must fit
// in the buffer. It follows the WHATWG rules for LF and CRLF line ends, the
// BOM, comments, "id" (ignored when it holds NUL), "event", multi-line
// "data" and "retry"; unlike the spec it does not treat a lone CR as a line
// end (no server measured here writes one; sse.NewReader does, see
// --parser=spec).
type fastParser struct {
	br      *bufio.Reader
	started bool
	id      []byte
	typ     []byte
	data    []byte
	retry   int64
	// Comments counts comment lines (heartbeats).
	Comments int
}

func newFastParser(br *bufio.Reader) *fastParser {
	return &fastParser{br: br, id: make([]byte, 0, 32), typ: make([]byte, 0, 16), data: make([]byte, 0, 256)}
}

var (
	bom         = []byte("\xEF\xBB\xBF")
	messageType = []byte("message")
)

func (p *fastParser) Retry() int64 { return p.retry }

func (p *fastParser) Next() (event, error) {
	p.data = p.data[:0]
	p.typ = p.typ[:0]
	hasData := false
	for {
		line, err := p.br.ReadSlice('\n')
		if err != nil {
			if err == bufio.ErrBufferFull {
				return event{}, errLineTooLong
			}
			if err == io.EOF && len(line) > 0 {
				err = io.ErrUnexpectedEOF
			}
			return event{}, err
		}
		line = line[:len(line)-1]
		if n := len(line); n > 0 && line[n-1] == '\r' {
			line = line[:n-1]
		}
		if !p.started {
			p.started = true
			line = bytes.TrimPrefix(line, bom)
		}
		if len(line) == 0 {
			if !hasData {
				p.typ = p.typ[:0]
				continue
			}
			typ := p.typ
			if len(typ) == 0 {
				typ = messageType
			}
			return event{ID: p.id, Type: typ, Data: p.data[:len(p.data)-1]}, nil
		}
		if line[0] == ':' {
			p.Comments++
			continue
		}
		field, value := line, []byte(nil)
		if i := bytes.IndexByte(line, ':'); i >= 0 {
			field, value = line[:i], line[i+1:]
			if len(value) > 0 && value[0] == ' ' {
				value = value[1:]
			}
		}
		switch string(field) { // no allocation: compiler-optimised comparison
		case "data":
			p.data = append(p.data, value...)
			p.data = append(p.data, '\n')
			hasData = true
		case "event":
			p.typ = append(p.typ[:0], value...)
		case "id":
			if bytes.IndexByte(value, 0) < 0 {
				p.id = append(p.id[:0], value...)
			}
		case "retry":
			if ms, err := strconv.ParseInt(string(value), 10, 64); err == nil && ms >= 0 && value[0] != '+' {
				p.retry = ms
			}
		}
	}
}

// specParser adapts the repo's spec-exact sse.Reader (which allocates per
// line and per event).
type specParser struct{ r *sse.Reader }

func (p specParser) Next() (event, error) {
	ev, err := p.r.Next()
	if err != nil {
		return event{}, err
	}
	return event{ID: []byte(ev.LastEventID), Type: []byte(ev.Type), Data: ev.Data}, nil
}

func (p specParser) Retry() int64 { return p.r.Retry().Milliseconds() }
