//go:build unix

package main

import (
	"bufio"
	"encoding/json"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tempstream/tempstream/pkg/reading"
	"github.com/tempstream/tempstream/pkg/sse"
)

// pair returns a connected client socket and the server's accepted one.
func pair(t *testing.T, rcvbuf int) (client net.Conn, server *net.TCPConn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	d := net.Dialer{}
	if rcvbuf > 0 {
		d.Control = func(_, _ string, rc syscall.RawConn) error {
			return rc.Control(func(fd uintptr) { _ = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, rcvbuf) })
		}
	}
	client, err = d.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	s, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	return client, s.(*net.TCPConn)
}

// The floor speaks enough HTTP for any SSE client, and its events are
// tempstream's: same type, same JSON, IDs "<epoch>-<seq>" with no gap or
// repeat after the newest event sent on connect.
func TestFloorStreamsTempstreamEvents(t *testing.T) {
	f := newFloor(2, "sim-1")
	defer f.close()
	f.publish(time.Now())
	f.publish(time.Now())
	client, server := pair(t, 0)
	if _, err := client.Write([]byte("GET /events HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n")); err != nil {
		t.Fatal(err)
	}
	// The writers may not have written the first frames yet: the newest
	// event on connect is the writer's, so there is no gap either way.
	f.handshake(server)
	if f.subscribers() != 1 {
		t.Fatalf("%d subscribers", f.subscribers())
	}
	for range 3 {
		f.publish(time.Now())
	}
	br := bufio.NewReader(client)
	status, _ := br.ReadString('\n')
	if status != "HTTP/1.1 200 OK\r\n" {
		t.Fatalf("status %q", status)
	}
	ctype := ""
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		if line == "\r\n" {
			break
		}
		if k, v, ok := strings.Cut(line, ":"); ok && strings.EqualFold(k, "Content-Type") {
			ctype = strings.TrimSpace(v)
		}
	}
	if !strings.HasPrefix(ctype, "text/event-stream") {
		t.Fatalf("content type %q", ctype)
	}
	r := sse.NewReader(br, 0)
	var prev uint64
	for prev < 5 {
		ev, err := r.Next()
		if err != nil {
			t.Fatal(err)
		}
		seq, ok := sse.ParseID(f.epoch, ev.LastEventID)
		if !ok || (prev != 0 && seq != prev+1) || ev.Type != reading.EventType {
			t.Fatalf("event %q %q after %d", ev.LastEventID, ev.Type, prev)
		}
		prev = seq
		var rd reading.Reading
		if err := json.Unmarshal(ev.Data, &rd); err != nil || rd.Sensor != "sim-1" || rd.Data == "" {
			t.Fatalf("data %s: %v", ev.Data, err)
		}
		if _, err := time.Parse(reading.TimeFormat, rd.At); err != nil || !strings.HasSuffix(rd.At, "Z") {
			t.Fatalf("at %q: %v", rd.At, err)
		}
	}
	if r.Retry() != 2*time.Second {
		t.Fatalf("retry %v", r.Retry())
	}
}

// A client that stops reading is closed once its socket cannot take a
// whole frame; the others are unaffected.
func TestFloorDropsStalledClient(t *testing.T) {
	f := newFloor(1, "sim-1")
	client, server := pair(t, 4096)
	_ = server.SetWriteBuffer(4096)
	if _, err := client.Write([]byte("GET / HTTP/1.1\r\n\r\n")); err != nil {
		t.Fatal(err)
	}
	f.handshake(server)
	for range 2000 { // ~260 KB: far more than both buffers hold
		f.publish(time.Now())
	}
	f.close() // waits for the writer to finish every frame
	if f.Dropped.Load() != 1 {
		t.Fatalf("dropped %d, want 1", f.Dropped.Load())
	}
}

func TestFloorHandshakeNeedsARequest(t *testing.T) {
	f := newFloor(1, "sim-1")
	defer f.close()
	client, server := pair(t, 0)
	client.Close() // no request: the floor closes without registering
	f.handshake(server)
	if f.subscribers() != 0 {
		t.Fatal("registered a socket without a request")
	}
}
