package sse

import (
	"errors"
	"io"
	"strings"
	"testing"
)

// readAll parses every event of s.
func readAll(t *testing.T, s string) ([]Received, *Reader) {
	t.Helper()
	r := NewReader(strings.NewReader(s), 0)
	var out []Received
	for {
		ev, err := r.Next()
		if err == io.EOF {
			return out, r
		}
		if err != nil {
			t.Fatalf("Next: %v", err)
		}
		out = append(out, ev)
	}
}

// The cases follow the WHATWG "interpreting an event stream" rules.
func TestReaderFollowsTheSpec(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     []Received
	}{
		{"default type is message", "data: x\n\n", []Received{{Type: "message", Data: []byte("x")}}},
		{"data lines join with LF", "data: a\ndata: b\n\n", []Received{{Type: "message", Data: []byte("a\nb")}}},
		{"only one space dropped", "data:  a\n\n", []Received{{Type: "message", Data: []byte(" a")}}},
		{"no space", "data:a\n\n", []Received{{Type: "message", Data: []byte("a")}}},
		{"field without colon", "data\n\n", []Received{{Type: "message", Data: []byte("")}}},
		{"CR and CRLF end lines", "event: t\rdata: a\r\ndata: b\r\r\n", []Received{{Type: "t", Data: []byte("a\nb")}}},
		{"id carries over", "id: 7\ndata: a\n\ndata: b\n\n",
			[]Received{{LastEventID: "7", Type: "message", Data: []byte("a")}, {LastEventID: "7", Type: "message", Data: []byte("b")}}},
		{"id with NUL ignored", "id: 1\ndata: a\n\nid: 2\x003\ndata: b\n\n",
			[]Received{{LastEventID: "1", Type: "message", Data: []byte("a")}, {LastEventID: "1", Type: "message", Data: []byte("b")}}},
		{"empty data buffer not dispatched", "event: t\n\ndata: x\n\n", []Received{{Type: "message", Data: []byte("x")}}},
		{"comment ignored", ": hi\ndata: x\n\n", []Received{{Type: "message", Data: []byte("x")}}},
		{"unknown field ignored", "foo: bar\ndata: x\n\n", []Received{{Type: "message", Data: []byte("x")}}},
		{"BOM at start", "\xEF\xBB\xBFdata: x\n\n", []Received{{Type: "message", Data: []byte("x")}}},
		{"final event without blank line dropped", "data: a\n\ndata: b\n", []Received{{Type: "message", Data: []byte("a")}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, _ := readAll(t, tc.in)
			if len(got) != len(tc.want) {
				t.Fatalf("got %d events %+v, want %d", len(got), got, len(tc.want))
			}
			for i := range got {
				if got[i].LastEventID != tc.want[i].LastEventID || got[i].Type != tc.want[i].Type || string(got[i].Data) != string(tc.want[i].Data) {
					t.Errorf("event %d: got %+v, want %+v", i, got[i], tc.want[i])
				}
			}
		})
	}
}

func TestReaderRetryDigitsOnly(t *testing.T) {
	_, r := readAll(t, "retry: 1500\n\nretry: 2x\n\nretry: -1\n\n")
	if r.Retry().Milliseconds() != 1500 {
		t.Fatalf("retry = %v, want 1.5s (invalid values ignored)", r.Retry())
	}
}

func TestReaderLineLimit(t *testing.T) {
	r := NewReader(strings.NewReader("data: "+strings.Repeat("x", 100)+"\n\n"), 50)
	if _, err := r.Next(); !errors.Is(err, ErrLineTooLong) {
		t.Fatalf("err = %v, want ErrLineTooLong", err)
	}
}
