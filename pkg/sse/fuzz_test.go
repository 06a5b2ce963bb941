package sse

import (
	"bytes"
	"io"
	"strings"
	"testing"
)

// normalizeNewlines is what a client makes of data: CRLF and CR become LF.
func normalizeNewlines(b []byte) []byte {
	b = bytes.ReplaceAll(b, []byte("\r\n"), []byte("\n"))
	return bytes.ReplaceAll(b, []byte("\r"), []byte("\n"))
}

// FuzzEncodeParse: whatever the ID, type and data, the encoder either refuses
// (and only for CR, LF or NUL in ID or type) or writes exactly one event that
// a spec-exact parser reads back as the same ID, type and data.
func FuzzEncodeParse(f *testing.F) {
	f.Add("1", "temperature", []byte(`{"data":"23.45"}`))
	f.Add("", "", []byte(""))
	f.Add("a\nb", "t", []byte("x"))
	f.Add("id", "t\r", []byte("x"))
	f.Add("id\x00", "t", []byte("x"))
	f.Add(" lead", " t", []byte(" d"))
	f.Add("x", "y", []byte("a\r\nb\rc\nd\n"))
	f.Add("x", "y", []byte(":comment\n\ndata: evil\n\n"))
	f.Add("x", "y", []byte("\xEF\xBB\xBFbom"))
	f.Fuzz(func(t *testing.T, id, typ string, data []byte) {
		frame, err := AppendEvent(nil, Event{ID: id, Type: typ, Data: data})
		if err != nil {
			if !hasBreak(id) && !hasBreak(typ) {
				t.Fatalf("refused a valid event: %v", err)
			}
			if len(frame) != 0 {
				t.Fatalf("wrote %q although it refused", frame)
			}
			return
		}
		if hasBreak(id) || hasBreak(typ) {
			t.Fatalf("accepted id %q type %q", id, typ)
		}
		// Two copies in a row: the first must not leak into the second.
		r := NewReader(bytes.NewReader(append(append([]byte(nil), frame...), frame...)), len(frame)+1)
		for i := range 2 {
			ev, err := r.Next()
			if err != nil {
				t.Fatalf("event %d: %v (frame %q)", i, err, frame)
			}
			wantType := typ
			if wantType == "" {
				wantType = "message"
			}
			if ev.Type != wantType || ev.LastEventID != id || !bytes.Equal(ev.Data, normalizeNewlines(data)) {
				t.Fatalf("event %d: got %+v, want id %q type %q data %q", i, ev, id, wantType, normalizeNewlines(data))
			}
		}
		if ev, err := r.Next(); err != io.EOF {
			t.Fatalf("extra event %+v, %v", ev, err)
		}
	})
}

// FuzzReader: the parser never panics, and never returns more data than it
// was given.
func FuzzReader(f *testing.F) {
	f.Add([]byte("id: 1\nevent: t\ndata: x\n\n"))
	f.Add([]byte("\xEF\xBB\xBFdata\r\n\r\n"))
	f.Add([]byte(": c\rretry: 10\r\rdata: a\ndata: b\n\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		r := NewReader(bytes.NewReader(in), 4096)
		total := 0
		for {
			ev, err := r.Next()
			if err != nil {
				break
			}
			total += len(ev.Data)
			if strings.ContainsAny(ev.LastEventID, "\x00\r\n") {
				t.Fatalf("last event id %q holds a break", ev.LastEventID)
			}
		}
		if total > len(in) {
			t.Fatalf("read %d data bytes from %d input bytes", total, len(in))
		}
	})
}
