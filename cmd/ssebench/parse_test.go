package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/tempstream/tempstream/pkg/sse"
)

// stream is real bytes as pkg/sse writes them, plus what other servers do:
// CRLF, a BOM, comments, unknown fields, multi-line data, an id with NUL.
func stream(tb testing.TB) []byte {
	tb.Helper()
	b := []byte("\xEF\xBB\xBF")
	b = sse.AppendRetry(b, 2*time.Second)
	for i, ev := range []sse.Event{
		{ID: "e-1", Type: "temperature", Data: []byte(`{"data":"25.00","celsius":25,"sensor":"sim-1","at":"2026-11-26T03:20:16.103Z"}`)},
		{ID: "e-2", Data: []byte("two\nlines")},
		{Type: "reset", Data: []byte(`{"reason":"unknown"}`)},
		{ID: "e-3", Type: "temperature", Data: []byte("")},
	} {
		var err error
		if b, err = sse.AppendEvent(b, ev); err != nil {
			tb.Fatal(err)
		}
		if i == 1 {
			b = sse.AppendComment(b, "heartbeat")
		}
	}
	b = append(b, "id: bad\x00id\r\nfoo: bar\r\ndata:no space\r\ndata:  two spaces\r\n\r\nevent: only-type\n\nretry: x\nretry: 3000\ndata\n\n"...)
	b = append(b, "data: partial, never dispatched\n"...)
	return b
}

func drain(p parser) ([]string, error) {
	var out []string
	for {
		ev, err := p.Next()
		if err != nil {
			return out, err
		}
		out = append(out, fmt.Sprintf("%s|%s|%q", ev.ID, ev.Type, ev.Data))
	}
}

// The fast parser dispatches what the spec-exact sse.Reader dispatches.
func TestFastParserMatchesSpecReader(t *testing.T) {
	b := stream(t)
	fast := newFastParser(bufio.NewReaderSize(bytes.NewReader(b), 256))
	got, ferr := drain(fast)
	spec := specParser{sse.NewReader(bytes.NewReader(b), 0)}
	want, serr := drain(spec)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("fast:\n%s\nspec:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if len(got) != 6 {
		t.Fatalf("%d events: %q", len(got), got)
	}
	if ferr != io.EOF || serr != io.EOF {
		t.Fatalf("ends: fast %v, spec %v", ferr, serr)
	}
	if fast.Retry() != 3000 || spec.Retry() != 3000 || fast.Comments != 1 {
		t.Fatalf("retry fast %d spec %d comments %d", fast.Retry(), spec.Retry(), fast.Comments)
	}
}

func TestFastParserLineTooLong(t *testing.T) {
	p := newFastParser(bufio.NewReaderSize(strings.NewReader("data: "+strings.Repeat("x", 600)+"\n\n"), 256))
	if _, err := p.Next(); err != errLineTooLong {
		t.Fatalf("err = %v", err)
	}
}

func TestFastParserDoesNotAllocate(t *testing.T) {
	one, _ := sse.AppendEvent(nil, sse.Event{ID: "mwwzijh2-12345", Type: "temperature", Data: []byte(`{"data":"25.00","celsius":25,"sensor":"sim-1","at":"2026-11-26T03:20:16.103Z"}`)})
	b := bytes.Repeat(one, 200)
	r := bytes.NewReader(b)
	br := bufio.NewReaderSize(r, 4096)
	p := newFastParser(br)
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := p.Next(); err != nil {
			r.Reset(b)
			br.Reset(r)
		}
	})
	if allocs != 0 {
		t.Fatalf("%.1f allocations per event", allocs)
	}
}

// go test -bench=Parse ./cmd/ssebench: the parsers on tempstream's events.
func BenchmarkParse(b *testing.B) {
	one, _ := sse.AppendEvent(nil, sse.Event{ID: "mwwzijh2-12345", Type: "temperature", Data: []byte(`{"data":"25.00","celsius":25,"sensor":"sim-1","at":"2026-11-26T03:20:16.103Z"}`)})
	data := bytes.Repeat(one, 1000)
	for _, kind := range []string{"fast", "spec"} {
		b.Run(kind, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(one)))
			r := bytes.NewReader(data)
			var p parser
			reset := func() {
				r.Reset(data)
				if kind == "fast" {
					p = newFastParser(bufio.NewReaderSize(r, 4096))
				} else {
					p = specParser{sse.NewReader(r, 0)}
				}
			}
			reset()
			for b.Loop() {
				ev, err := p.Next()
				if err != nil {
					reset()
					continue
				}
				if _, ok := parseAt(ev.Data); !ok {
					b.Fatal("no at")
				}
			}
		})
	}
}
