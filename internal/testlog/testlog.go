// Package testlog keeps the JSON log of a tempstream process under test:
// every line, parsed, with waits on lines still to come. Tests give a Sink
// as the process's stderr (or run's). It is for tests only.
package testlog

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"
)

// Line is one log line as JSON; a line that is not JSON is {"unparsed": text}.
type Line map[string]any

// Str returns the string field k, or "".
func (l Line) Str(k string) string {
	s, _ := l[k].(string)
	return s
}

// Sink keeps every line written to it, announces the "listening" address
// once, and wakes waiters on each new line. Safe for concurrent use.
type Sink struct {
	mu      sync.Mutex
	partial []byte
	lines   []Line
	raw     []string
	changed chan struct{} // closed and replaced on every new line
	addr    chan string   // the "listening" addr, sent once
	sent    bool
}

// New returns an empty Sink.
func New() *Sink {
	return &Sink{changed: make(chan struct{}), addr: make(chan string, 1)}
}

// Write takes log output; lines may come in any pieces.
func (s *Sink) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.partial = append(s.partial, p...)
	added := false
	for {
		i := bytes.IndexByte(s.partial, '\n')
		if i < 0 {
			break
		}
		line := string(s.partial[:i])
		s.partial = s.partial[i+1:]
		var l Line
		if err := json.Unmarshal([]byte(line), &l); err != nil {
			l = Line{"unparsed": line}
		}
		s.lines = append(s.lines, l)
		s.raw = append(s.raw, line)
		added = true
		if l.Str("msg") == "listening" && !s.sent {
			s.sent = true
			s.addr <- l.Str("addr")
		}
	}
	if added {
		close(s.changed)
		s.changed = make(chan struct{})
	}
	return len(p), nil
}

// Addr receives the address of the first "listening" line.
func (s *Sink) Addr() <-chan string { return s.addr }

// Snapshot returns the lines so far and a channel closed at the next one.
func (s *Sink) Snapshot() ([]Line, <-chan struct{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lines[:len(s.lines):len(s.lines)], s.changed
}

// Raw returns the lines so far as written.
func (s *Sink) Raw() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.raw...)
}

// Wait returns the first line that satisfies match, waiting for it until
// timeout; it fails the test without one.
func (s *Sink) Wait(t testing.TB, timeout time.Duration, what string, match func(Line) bool) Line {
	t.Helper()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for {
		lines, changed := s.Snapshot()
		for _, l := range lines {
			if match(l) {
				return l
			}
		}
		select {
		case <-changed:
		case <-timer.C:
			t.Fatalf("no log line %s within %v", what, timeout)
			return nil
		}
	}
}

// WaitClosed waits for the "stream closed" line of the connection whose
// client end is remote.
func (s *Sink) WaitClosed(t testing.TB, timeout time.Duration, remote string) Line {
	t.Helper()
	return s.Wait(t, timeout, fmt.Sprintf("stream closed for %s", remote), func(l Line) bool {
		return l.Str("msg") == "stream closed" && l.Str("remote") == remote
	})
}
