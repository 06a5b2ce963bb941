// Package ssetest is the client side of tests of event streams, as
// net/http/httptest is the server side of tests of handlers. It opens a
// stream over an http.Client (Open: HTTP/1.1, HTTP/2, TLS) or over a TCP
// connection of its own with the request written by hand (Dial, Send:
// HTTP/1.1 or HTTP/1.0, through a proxy, with a small receive buffer), reads
// it with sse.Reader, the engine's spec-exact parser, and waits for each
// event with a deadline, never longer. A Recorder reads a stream on its own
// goroutine and keeps every event with its arrival time; a Follower
// reconnects like a browser's EventSource, with Last-Event-ID.
//
// Everything a function given a testing.TB opens is closed, and every
// goroutine it starts has ended, when the test's cleanups have run.
package ssetest

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tempstream/tempstream/pkg/sse"
)

// DefaultTimeout bounds connecting and the response head when
// Options.Timeout is 0.
const DefaultTimeout = 10 * time.Second

// Options are the request and how to read its answer. The zero value is a
// GET asking for text/event-stream.
type Options struct {
	// LastEventID, when not empty, is sent as the Last-Event-ID header.
	LastEventID string
	// Header holds more request header fields. Dial and Send write them as
	// given ("Name: value" lines, sorted by name).
	Header http.Header
	// Timeout bounds connecting and reading the response head; 0 means
	// DefaultTimeout.
	Timeout time.Duration
	// AnyStatus makes a response that is not a 200 event stream a result,
	// not a test failure: its body is read whole into Stream.Text.
	AnyStatus bool
	// Tap, when not nil, gets the body's bytes as they are read, before
	// they are parsed, on the goroutine that reads. An error from its Write
	// ends the stream: Next returns that error.
	Tap io.Writer
	// MaxLine is the parser's line limit (0: sse.Reader's default).
	MaxLine int

	// Client (Open only) does the request; nil means a client of the
	// stream's own, whose connections end with it.
	Client *http.Client

	// Proto (Dial and Send only) is the request's version: "HTTP/1.1" (the
	// default) or "HTTP/1.0".
	Proto string
	// Addr (Dial and Send only), when not empty, is where to connect
	// instead of the URL's host, such as a reverse proxy; the Host header
	// stays the URL's.
	Addr string
	// Proxy (Dial and Send only), when not empty, is a forward proxy to
	// connect to; the request target is then the absolute URL.
	Proxy string
	// RecvBuffer (Dial and Send only), when > 0, is the socket's receive
	// buffer (SO_RCVBUF), set before connecting: with a small one, a client
	// that stops reading fills the server's socket sooner.
	RecvBuffer int
}

func (o Options) timeout() time.Duration {
	if o.Timeout > 0 {
		return o.Timeout
	}
	return DefaultTimeout
}

// Stream is one response to a stream request (or a Pipe). One goroutine at a time
// reads it (Next and the helpers built on it); Close, Comments, LastByte,
// Retry and LastEventID may be called from any goroutine.
type Stream struct {
	// Resp is the response. Its Body is the stream, read by Next: do not
	// read it directly.
	Resp *http.Response
	// Text is the body of a response that is not a 200 event stream, read
	// whole (with Options.AnyStatus only; Next then returns io.EOF).
	Text string

	url    string
	opts   Options
	reopen func(url string, o Options) (*Stream, error) // how it was opened: Follow reconnects so
	conn   net.Conn                                     // Dial and Send
	cancel context.CancelFunc                           // Open
	head   string
	local  string
	rd     *sse.Reader
	watch  *watcher

	readMu sync.Mutex // held while reading the body
	err    error      // why reading ended; under readMu

	stateMu     sync.Mutex // the reader's state after the last Next
	retry       time.Duration
	lastEventID string

	closeOnce sync.Once
}

// Open GETs url with an http.Client (Options.Client, or one of the
// stream's own) and returns the response once its head came: a 200 event
// stream, or the test fails (unless Options.AnyStatus). Next reads it on a
// goroutine of the call's, so that it can stop waiting at a deadline; a
// deadline passed ends the request.
func Open(tb testing.TB, url string, o Options) *Stream {
	tb.Helper()
	s, err := open(url, o)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(s.release)
	return s
}

// Dial GETs url over a new TCP connection of its own, with the request
// written by hand, and returns the response once its head came: a 200
// event stream, or the test fails (unless Options.AnyStatus). Next reads it
// on the caller's goroutine with a read deadline on the socket: a stream
// adds no goroutine to the process.
func Dial(tb testing.TB, url string, o Options) *Stream {
	tb.Helper()
	return Send(tb, url, o).Stream(tb)
}

// Sent is a request written on its own connection whose answer is not read
// yet: a request that is in the server's socket before the server can read
// it, or a client that stalls (it never reads).
type Sent struct {
	conn net.Conn
	url  string
	opts Options
}

// Send connects as Dial does and writes the request, reading nothing. The
// connection is closed when the test ends.
func Send(tb testing.TB, url string, o Options) *Sent {
	tb.Helper()
	p, err := send(url, o)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = p.conn.Close() })
	return p
}

// Conn is the connection.
func (p *Sent) Conn() net.Conn { return p.conn }

// Local is the client's address, "remote" to the server.
func (p *Sent) Local() string { return p.conn.LocalAddr().String() }

// Stream reads the response head, within Options.Timeout, as Dial does.
func (p *Sent) Stream(tb testing.TB) *Stream {
	tb.Helper()
	s, err := p.response()
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(s.release)
	return s
}

// Pipe reads an event stream from r, such as the output of a command-line
// client (curl -N), named name in messages. Next reads it as it reads an
// Open stream; Close calls stop (once), which must make a read of r return.
// It is closed when the test ends.
func Pipe(tb testing.TB, name string, r io.Reader, stop func()) *Stream {
	tb.Helper()
	s := &Stream{
		Resp:   &http.Response{StatusCode: http.StatusOK, Header: http.Header{}, Body: io.NopCloser(r)},
		url:    name,
		cancel: stop,
		watch:  &watcher{r: r, lineStart: true},
	}
	s.rd = sse.NewReader(s.watch, 0)
	tb.Cleanup(s.release)
	return s
}

// open is Open without a test: the stream is the caller's to release.
func open(rawURL string, o Options) (*Stream, error) {
	ctx, cancel := context.WithCancel(context.Background())
	var (
		mu    sync.Mutex
		local string
	)
	ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{GotConn: func(ci httptrace.GotConnInfo) {
		mu.Lock()
		local = ci.Conn.LocalAddr().String()
		mu.Unlock()
	}})
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		cancel()
		return nil, err
	}
	req.Header.Set("Accept", "text/event-stream")
	for k, vs := range o.Header {
		req.Header[k] = vs
	}
	if o.LastEventID != "" {
		req.Header.Set("Last-Event-ID", o.LastEventID)
	}
	client, stop := o.Client, cancel
	if client == nil {
		tr := &http.Transport{}
		client = &http.Client{Transport: tr}
		stop = func() {
			cancel()
			tr.CloseIdleConnections()
		}
	}
	timeout := o.timeout()
	timer := time.AfterFunc(timeout, cancel)
	resp, err := client.Do(req)
	if !timer.Stop() {
		if err == nil {
			resp.Body.Close()
		}
		stop()
		return nil, fmt.Errorf("GET %s: no response head within %v", rawURL, timeout)
	}
	if err != nil {
		stop()
		return nil, err
	}
	mu.Lock()
	s := &Stream{Resp: resp, url: rawURL, opts: o, reopen: open, cancel: stop, local: local}
	mu.Unlock()
	return s, s.start()
}

// send is Send without a test: the connection is the caller's to close.
func send(rawURL string, o Options) (*Sent, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, err
	}
	addr := u.Host
	switch {
	case o.Proxy != "":
		addr = o.Proxy
	case o.Addr != "":
		addr = o.Addr
	}
	d := net.Dialer{Timeout: o.timeout()}
	if o.RecvBuffer > 0 {
		d.Control = recvBuffer(o.RecvBuffer)
	}
	conn, err := d.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	_ = conn.SetWriteDeadline(time.Now().Add(o.timeout()))
	if _, err := io.WriteString(conn, requestText(u, o)); err != nil {
		_ = conn.Close()
		return nil, fmt.Errorf("writing the request to %s: %w", addr, err)
	}
	_ = conn.SetWriteDeadline(time.Time{})
	return &Sent{conn: conn, url: rawURL, opts: o}, nil
}

func dial(rawURL string, o Options) (*Stream, error) {
	p, err := send(rawURL, o)
	if err != nil {
		return nil, err
	}
	return p.response()
}

// requestText is the GET of u as Dial writes it.
func requestText(u *url.URL, o Options) string {
	target := u.RequestURI()
	if o.Proxy != "" {
		target = u.String()
	}
	proto := o.Proto
	if proto == "" {
		proto = "HTTP/1.1"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "GET %s %s\r\nHost: %s\r\n", target, proto, u.Host)
	if o.Header.Get("Accept") == "" {
		b.WriteString("Accept: text/event-stream\r\n")
	}
	if o.Header.Get("User-Agent") == "" {
		b.WriteString("User-Agent: ssetest\r\n")
	}
	if o.LastEventID != "" {
		b.WriteString("Last-Event-ID: " + o.LastEventID + "\r\n")
	}
	for _, k := range slices.Sorted(func(yield func(string) bool) {
		for k := range o.Header {
			if !yield(k) {
				return
			}
		}
	}) {
		for _, v := range o.Header[k] {
			b.WriteString(k + ": " + v + "\r\n")
		}
	}
	b.WriteString("\r\n")
	return b.String()
}

// headRecorder keeps what is read through it while on.
type headRecorder struct {
	r   io.Reader
	on  bool
	buf []byte
}

func (h *headRecorder) Read(p []byte) (int, error) {
	n, err := h.r.Read(p)
	if h.on {
		h.buf = append(h.buf, p[:n]...)
	}
	return n, err
}

// response reads the head of the answer to p within its timeout.
func (p *Sent) response() (*Stream, error) {
	_ = p.conn.SetReadDeadline(time.Now().Add(p.opts.timeout()))
	rec := &headRecorder{r: p.conn, on: true}
	br := bufio.NewReader(rec)
	resp, err := http.ReadResponse(br, &http.Request{Method: http.MethodGet})
	if err != nil {
		_ = p.conn.Close()
		return nil, fmt.Errorf("GET %s: reading the response head: %w", p.url, err)
	}
	head := string(rec.buf[:len(rec.buf)-br.Buffered()])
	rec.on, rec.buf = false, nil
	s := &Stream{Resp: resp, url: p.url, opts: p.opts, reopen: dial, conn: p.conn, head: head, local: p.Local()}
	if err := s.start(); err != nil {
		return nil, err
	}
	_ = p.conn.SetReadDeadline(time.Time{})
	return s, nil
}

func isEventStream(contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	return err == nil && mt == "text/event-stream"
}

// start checks the head and sets up the reader; on an error the stream is
// released.
func (s *Stream) start() error {
	resp := s.Resp
	if resp.StatusCode != http.StatusOK || !isEventStream(resp.Header.Get("Content-Type")) {
		limit := int64(4096)
		if s.opts.AnyStatus {
			limit = 1 << 20
		}
		timer := time.AfterFunc(s.opts.timeout(), s.Close)
		b, err := io.ReadAll(io.LimitReader(resp.Body, limit))
		timer.Stop()
		if !s.opts.AnyStatus {
			s.release()
			return fmt.Errorf("GET %s: %s (Content-Type %q) %q, want a 200 event stream", s.url, resp.Status, resp.Header.Get("Content-Type"), b)
		}
		if err != nil {
			s.release()
			return fmt.Errorf("GET %s: reading the %s answer: %w", s.url, resp.Status, err)
		}
		s.Text, s.err = string(b), io.EOF
		s.release()
		return nil
	}
	s.watch = &watcher{r: resp.Body, tap: s.opts.Tap, lineStart: true}
	s.rd = sse.NewReader(s.watch, s.opts.MaxLine)
	return nil
}

// Head is the response's status line and header as received (Dial and
// Send only).
func (s *Stream) Head() string { return s.head }

// Conn is the connection (Dial and Send only).
func (s *Stream) Conn() net.Conn { return s.conn }

// Local is the client's address: the server's "remote".
func (s *Stream) Local() string { return s.local }

// URL is the URL the stream was opened with.
func (s *Stream) URL() string { return s.url }

// Close ends the stream: a Next in progress returns an error, and so does
// every Next after. It may be called more than once, from any goroutine.
func (s *Stream) Close() {
	s.closeOnce.Do(func() {
		if s.conn != nil {
			_ = s.conn.Close()
		}
		if s.cancel != nil {
			s.cancel()
		}
	})
}

// release closes the stream and, once no read is in progress, its body.
func (s *Stream) release() {
	s.Close()
	s.readMu.Lock()
	defer s.readMu.Unlock()
	_ = s.Resp.Body.Close()
}

// timeoutError is Next's error when no event came in time.
type timeoutError struct{ d time.Duration }

func (e timeoutError) Error() string   { return fmt.Sprintf("ssetest: no event within %v", e.d) }
func (e timeoutError) Timeout() bool   { return true }
func (e timeoutError) Temporary() bool { return true }

// IsTimeout reports whether err is a deadline passing (of Next, or of a
// socket read).
func IsTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// Next reads the next event, waiting at most timeout. Its error is why the
// stream ended: io.EOF for a clean end, a timeout (IsTimeout), or the
// connection's error. After an error, every Next returns the same one: a
// stream is not read past a deadline.
func (s *Stream) Next(timeout time.Duration) (sse.Received, error) {
	return s.next(time.Now().Add(timeout))
}

// next is Next with a deadline; the zero time means none.
func (s *Stream) next(deadline time.Time) (sse.Received, error) {
	s.readMu.Lock()
	defer s.readMu.Unlock()
	if s.err != nil {
		return sse.Received{}, s.err
	}
	var (
		ev  sse.Received
		err error
	)
	if s.conn != nil {
		_ = s.conn.SetReadDeadline(deadline)
		ev, err = s.rd.Next()
	} else {
		done := make(chan struct{})
		go func() {
			defer close(done)
			ev, err = s.rd.Next()
		}()
		if !deadline.IsZero() {
			timeout := time.Until(deadline)
			timer := time.NewTimer(timeout)
			select {
			case <-done:
			case <-timer.C:
				s.Close()
				<-done
				ev, err = sse.Received{}, timeoutError{timeout}
			}
			timer.Stop()
		} else {
			<-done
		}
	}
	s.stateMu.Lock()
	s.retry, s.lastEventID = s.rd.Retry(), s.rd.LastEventID()
	s.stateMu.Unlock()
	if err != nil {
		s.err = err
		return sse.Received{}, err
	}
	return ev, nil
}

// MustNext reads the next event within timeout, failing the test without.
func (s *Stream) MustNext(tb testing.TB, timeout time.Duration) sse.Received {
	tb.Helper()
	ev, err := s.Next(timeout)
	if err != nil {
		tb.Fatalf("reading the next event of %s (from %s): %v", s.url, s.local, err)
	}
	return ev
}

// Take reads the next n events, each within timeout.
func (s *Stream) Take(tb testing.TB, n int, timeout time.Duration) []sse.Received {
	tb.Helper()
	evs := make([]sse.Received, 0, n)
	for range n {
		evs = append(evs, s.MustNext(tb, timeout))
	}
	return evs
}

// Until reads events, each within timeout, up to and including the one
// whose ID is id.
func (s *Stream) Until(tb testing.TB, id string, timeout time.Duration) []sse.Received {
	tb.Helper()
	var evs []sse.Received
	for len(evs) == 0 || evs[len(evs)-1].LastEventID != id {
		evs = append(evs, s.MustNext(tb, timeout))
	}
	return evs
}

// Reset reads the next event within timeout and fails the test unless it
// is a "reset" whose data is a sse.ResetInfo (no other field).
func (s *Stream) Reset(tb testing.TB, timeout time.Duration) sse.ResetInfo {
	tb.Helper()
	ev := s.MustNext(tb, timeout)
	if ev.Type != "reset" {
		tb.Fatalf("event %s %q %s, want a reset", ev.LastEventID, ev.Type, ev.Data)
	}
	var info sse.ResetInfo
	dec := json.NewDecoder(strings.NewReader(string(ev.Data)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&info); err != nil || dec.More() {
		tb.Fatalf("reset data %q: %v", ev.Data, err)
	}
	return info
}

// Rest reads events until the stream ends, for at most timeout in all, and
// returns them with why reading ended: io.EOF for a clean end, a timeout
// (IsTimeout) if it was still open.
func (s *Stream) Rest(timeout time.Duration) ([]sse.Received, error) {
	deadline := time.Now().Add(timeout)
	var evs []sse.Received
	for {
		left := time.Until(deadline)
		if left <= 0 {
			return evs, timeoutError{timeout}
		}
		ev, err := s.Next(left)
		if err != nil {
			return evs, err
		}
		evs = append(evs, ev)
	}
}

// Retry is the last "retry:" field read, or 0.
func (s *Stream) Retry() time.Duration {
	s.stateMu.Lock()
	defer s.stateMu.Unlock()
	return s.retry
}

// LastEventID is the parser's last event ID buffer after the last Next:
// the ID a browser would resume with.
func (s *Stream) LastEventID() string {
	s.stateMu.Lock()
	defer s.stateMu.Unlock()
	return s.lastEventID
}

// Comments counts the comment lines (heartbeats) received so far, as
// they arrive.
func (s *Stream) Comments() int {
	if s.watch == nil {
		return 0
	}
	return int(s.watch.comments.Load())
}

// LastByte is when the last byte of the body arrived (zero before any).
func (s *Stream) LastByte() time.Time {
	if s.watch == nil {
		return time.Time{}
	}
	if ns := s.watch.lastByte.Load(); ns != 0 {
		return time.Unix(0, ns)
	}
	return time.Time{}
}

// watcher notes what passes on its way to the parser: the time of the last
// byte and the comment lines, and gives every byte to the tap.
type watcher struct {
	r         io.Reader
	tap       io.Writer
	comments  atomic.Int64
	lastByte  atomic.Int64 // UnixNano
	lineStart bool         // the next byte starts a line
	inComment bool         // the current line is a comment
}

func (w *watcher) Read(p []byte) (int, error) {
	n, err := w.r.Read(p)
	if n == 0 {
		return n, err
	}
	w.lastByte.Store(time.Now().UnixNano())
	for _, c := range p[:n] {
		switch {
		case c == '\n' || c == '\r':
			if w.inComment {
				w.comments.Add(1)
				w.inComment = false
			}
			w.lineStart = true
		case w.lineStart:
			w.inComment, w.lineStart = c == ':', false
		}
	}
	if w.tap != nil {
		if _, terr := w.tap.Write(p[:n]); terr != nil {
			return n, terr
		}
	}
	return n, err
}
