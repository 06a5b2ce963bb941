package sse

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"time"
)

func TestAppendEventWireFormat(t *testing.T) {
	for _, tc := range []struct {
		name string
		ev   Event
		want string
	}{
		{"all fields", Event{ID: "e-1", Type: "temperature", Data: []byte(`{"data":"23.45"}`)},
			"id: e-1\nevent: temperature\ndata: {\"data\":\"23.45\"}\n\n"},
		{"no id, no type", Event{Data: []byte("x")}, "data: x\n\n"},
		{"empty data", Event{Type: "t"}, "event: t\ndata: \n\n"},
		{"LF splits", Event{Data: []byte("a\nb")}, "data: a\ndata: b\n\n"},
		{"CRLF splits once", Event{Data: []byte("a\r\nb")}, "data: a\ndata: b\n\n"},
		{"lone CR splits", Event{Data: []byte("a\rb")}, "data: a\ndata: b\n\n"},
		{"trailing newline kept", Event{Data: []byte("a\n")}, "data: a\ndata: \n\n"},
		{"leading colon stays data", Event{Data: []byte(":not a comment")}, "data: :not a comment\n\n"},
		{"leading space kept", Event{Data: []byte(" x")}, "data:  x\n\n"},
		{"NUL in data passes", Event{Data: []byte("a\x00b")}, "data: a\x00b\n\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := AppendEvent(nil, tc.ev)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tc.want {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestAppendEventRefusesBreakingIDAndType(t *testing.T) {
	for _, bad := range []string{"a\nb", "a\rb", "a\x00b", "\n"} {
		dst := []byte("keep")
		got, err := AppendEvent(dst, Event{ID: bad, Data: []byte("x")})
		if !errors.Is(err, ErrInvalidID) || string(got) != "keep" {
			t.Errorf("id %q: got %q, %v; want ErrInvalidID and nothing appended", bad, got, err)
		}
		got, err = AppendEvent(dst, Event{Type: bad, Data: []byte("x")})
		if !errors.Is(err, ErrInvalidType) || string(got) != "keep" {
			t.Errorf("type %q: got %q, %v; want ErrInvalidType and nothing appended", bad, got, err)
		}
	}
}

func TestAppendCommentCannotInjectFields(t *testing.T) {
	got := AppendComment(nil, "hi\ndata: injected\revent: x")
	want := ": hi\n: data: injected\n: event: x\n\n"
	if string(got) != want {
		t.Fatalf("got %q, want %q", got, want)
	}
	r := NewReader(bytes.NewReader(got), 0)
	if ev, err := r.Next(); err != io.EOF {
		t.Fatalf("comment dispatched an event: %+v, %v", ev, err)
	}
	if r.Comments() != 3 {
		t.Fatalf("comments = %d, want 3", r.Comments())
	}
}

func TestAppendRetry(t *testing.T) {
	if got := string(AppendRetry(nil, 2*time.Second)); got != "retry: 2000\n\n" {
		t.Fatalf("got %q", got)
	}
	r := NewReader(strings.NewReader("retry: 2000\n\n"), 0)
	if _, err := r.Next(); err != io.EOF || r.Retry() != 2*time.Second {
		t.Fatalf("retry = %v, err %v", r.Retry(), err)
	}
}

func TestAppendEventDoesNotAllocate(t *testing.T) {
	ev := Event{ID: "mwwzcmt4-12345", Type: "temperature",
		Data: []byte(`{"data":"23.45","celsius":23.45,"sensor":"sim-1","at":"2026-11-26T01:02:03.456Z"}`)}
	buf := make([]byte, 0, 512)
	allocs := testing.AllocsPerRun(100, func() {
		var err error
		buf, err = AppendEvent(buf[:0], ev)
		if err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Fatalf("AppendEvent allocates %v times per event, want 0", allocs)
	}
}
