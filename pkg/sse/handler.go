package sse

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/tempstream/tempstream/pkg/httpjson"
)

// Defaults for Handler fields left zero.
const (
	DefaultRetry        = 2 * time.Second
	DefaultHeartbeat    = 15 * time.Second
	DefaultWriteTimeout = 10 * time.Second
)

// Handler serves a stream of a Broker as text/event-stream.
//
// The stream is named by the "stream" query parameter (DefaultStream when
// absent). A client resumes with the Last-Event-ID header, or on its first
// connection with the query parameter lastEventId (lastEventID and
// last_event_id are accepted too); the header wins. A resume point that cannot
// be honoured is answered with a "reset" event (data: ResetInfo as JSON)
// followed by every retained event, never with an error status, which would
// end a browser's EventSource for good.
//
// Unknown streams get 404 and, past MaxSubscribers, requests get 503 with
// Retry-After, both with a JSON body. The zero value of every field but
// Broker works. Handler must not be copied after first use.
type Handler struct {
	Broker *Broker
	// DefaultStream is served without a "stream" parameter; when empty, the
	// broker's only stream (if it has exactly one).
	DefaultStream string
	// Retry is sent as "retry:" at the start of each response (DefaultRetry when 0).
	Retry time.Duration
	// Heartbeat is how long a response may stay silent before a comment is
	// written to keep proxies from closing it (DefaultHeartbeat when 0).
	Heartbeat time.Duration
	// WriteTimeout bounds every write; a subscriber that misses it is
	// evicted (DefaultWriteTimeout when 0).
	WriteTimeout time.Duration
	// MaxSubscribers caps concurrent responses over all streams; 0 means no cap.
	MaxSubscribers int
	// Keys, if not nil, reads from a request the keys it follows (nil or
	// empty: all). An error is answered 400 with the error's text.
	Keys func(r *http.Request) ([]string, error)
	// Logger gets one line per connection opened and closed; nil discards.
	Logger *slog.Logger
	// Writers, when positive, is how many goroutines write the plain
	// HTTP/1.1 responses: each such connection is hijacked after its replay
	// and written with non-blocking writes by one of them, so an idle
	// subscriber holds no goroutine and no net/http buffer (see pool.go).
	// A write that cannot complete at once gets a goroutine until it does
	// or misses WriteTimeout. HTTP/2, TLS and HTTP/1.0 responses are served
	// by their own goroutine, as with 0 (the default). With Writers set,
	// call Shutdown or Close once the server has stopped.
	Writers int

	active atomic.Int64

	poolMu     sync.Mutex
	pool       *pool
	poolClosed bool
}

// Shutdown ends the pooled responses (see Writers) once their streams have
// closed (Broker.Close), or when ctx is done, cutting what is left, and
// stops the writers. It returns ctx's error if it had to cut. Responses
// served by their own goroutine end with their streams or their server.
// After Shutdown, new responses are not pooled. Safe to call more than once.
func (h *Handler) Shutdown(ctx context.Context) error {
	h.poolMu.Lock()
	p := h.pool
	h.pool, h.poolClosed = nil, true
	h.poolMu.Unlock()
	if p == nil {
		return nil
	}
	return p.shutdown(ctx)
}

// Close is Shutdown without waiting: pooled responses end now, each with
// what its socket takes at once of its unread events.
func (h *Handler) Close() error {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := h.Shutdown(ctx); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}

// pooled returns how many responses the writer pool holds (0 without one).
func (h *Handler) pooled() int {
	h.poolMu.Lock()
	defer h.poolMu.Unlock()
	if h.pool == nil {
		return 0
	}
	return int(h.pool.live.Load())
}

// writerPool returns the pool that is to write r's response, or nil.
func (h *Handler) writerPool(r *http.Request) *pool {
	if h.Writers <= 0 || r.ProtoMajor != 1 || r.ProtoMinor < 1 || r.TLS != nil {
		return nil
	}
	h.poolMu.Lock()
	defer h.poolMu.Unlock()
	if h.pool == nil && !h.poolClosed {
		h.pool = newPool(h, h.Writers)
	}
	return h.pool
}

func orDefault(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

func (h *Handler) streamName(r *http.Request) string {
	if name := r.URL.Query().Get("stream"); name != "" {
		return name
	}
	if h.DefaultStream != "" {
		return h.DefaultStream
	}
	if names := h.Broker.Names(); len(names) == 1 {
		return names[0]
	}
	return ""
}

// ResumePoint returns the client's resume point: the Last-Event-ID header, or
// else the lastEventId (lastEventID, last_event_id) query parameter.
func ResumePoint(r *http.Request) string {
	if id := r.Header.Get("Last-Event-ID"); id != "" {
		return id
	}
	q := r.URL.Query()
	for _, k := range [...]string{"lastEventId", "lastEventID", "last_event_id"} {
		if id := q.Get(k); id != "" {
			return id
		}
	}
	return ""
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	m := h.Broker.metrics
	name := h.streamName(r)
	st, ok := h.Broker.Stream(name)
	if !ok {
		m.rejected.WithLabelValues("unknown_stream").Inc()
		httpjson.Error(w, http.StatusNotFound, fmt.Sprintf("unknown stream %q", name),
			map[string]any{"stream": name, "streams": h.Broker.Names()})
		return
	}
	var keys []string
	if h.Keys != nil {
		var err error
		if keys, err = h.Keys(r); err != nil {
			m.rejected.WithLabelValues("bad_request").Inc()
			httpjson.Error(w, http.StatusBadRequest, err.Error(), nil)
			return
		}
	}
	retry := orDefault(h.Retry, DefaultRetry)
	if n := h.active.Add(1); h.MaxSubscribers > 0 && n > int64(h.MaxSubscribers) {
		h.active.Add(-1)
		m.rejected.WithLabelValues("capacity").Inc()
		w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(retry.Seconds()))))
		httpjson.Error(w, http.StatusServiceUnavailable, "server at capacity: too many subscribers",
			map[string]any{"maxSubscribers": h.MaxSubscribers})
		return
	}

	rc := http.NewResponseController(w)
	resume := ResumePoint(r)
	sub, err := st.SubscribeWith(SubscribeOptions{LastEventID: resume, Keys: keys,
		OnEvict: func() { _ = rc.SetWriteDeadline(time.Now()) }})
	if err != nil {
		h.active.Add(-1)
		m.rejected.WithLabelValues("closed").Inc()
		w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(retry.Seconds()))))
		httpjson.Error(w, http.StatusServiceUnavailable, "stream is shutting down", nil)
		return
	}

	sub.reportWrites()
	c := conn{h: h, st: st, sub: sub, w: w, rc: rc, start: time.Now(),
		writeTimeout: orDefault(h.WriteTimeout, DefaultWriteTimeout)}
	log := h.logger().With("stream", name, "remote", r.RemoteAddr)
	log.Info("stream opened", "resume", truncate(resume, 64), "keys", len(keys), "proto", r.Proto)
	reason, handed := endPanic, false
	defer func() {
		if handed {
			return // the pool ends it
		}
		// Release the slot before saying so: a client that reconnects as
		// soon as it sees the line must find it free.
		sub.Close()
		h.active.Add(-1)
		log.Info("stream closed", "reason", reason.String(), "duration", time.Since(c.start).Round(time.Millisecond),
			"events", c.events, "bytes", c.bytes)
	}()
	if p := h.writerPool(r); p != nil {
		var hijacked bool
		if hijacked, reason = c.handOff(r, retry, p); hijacked {
			handed = reason == endNone
			return
		}
	}
	reason = c.serve(r, retry, orDefault(h.Heartbeat, DefaultHeartbeat))
}

// truncate cuts s to at most n bytes, at a UTF-8 character boundary.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// conn is one streamed response.
type conn struct {
	h            *Handler
	st           *Stream
	sub          *Subscription
	w            http.ResponseWriter
	rc           *http.ResponseController
	start        time.Time
	writeTimeout time.Duration
	events       int
	bytes        int
}

// send writes frames with a deadline and flushes them: conn is the sink of
// a response served by its own goroutine.
func (c *conn) send(frames [][]byte) (queued bool, err error) {
	if err := c.rc.SetWriteDeadline(time.Now().Add(c.writeTimeout)); err != nil && !errors.Is(err, http.ErrNotSupported) {
		return false, err
	}
	// An eviction sets the deadline to now; if it came before the line
	// above, it is seen here, so the evicted writer never waits it out.
	if err := c.sub.Err(); err == ErrSlow {
		return false, err
	}
	c.sub.setBlocked(true) // until the flush returns: the client may not be reading
	defer c.sub.setBlocked(false)
	n := 0
	for _, f := range frames {
		k, err := c.w.Write(f)
		n += k
		if err != nil {
			c.wrote(n)
			return false, err
		}
	}
	c.wrote(n)
	return false, c.rc.Flush()
}

func (c *conn) wrote(n int) {
	c.bytes += n
	c.st.m.bytes.Add(float64(n))
}

// serve streams until the client leaves, the subscriber is evicted or the
// stream closes, and says which.
func (c *conn) serve(r *http.Request, retry, heartbeat time.Duration) endReason {
	c.setHeaders(r)
	c.w.WriteHeader(http.StatusOK)
	if _, err := c.send(c.prologue(r, retry)); err != nil {
		return endOfWrite(c.sub, err)
	}
	hb := time.NewTimer(heartbeat)
	defer hb.Stop()
	frames := make([][]byte, 0, 16)
	for {
		n, _, end := step(c.sub, &frames, c)
		c.events += n
		c.st.m.delivered.Add(float64(n))
		if end != endNone {
			return end
		}
		if n > 0 {
			hb.Reset(heartbeat)
			if c.sub.Pending() {
				continue
			}
		}
		select {
		case <-c.sub.Wake():
		case <-hb.C:
			if _, end := beat(c.sub, c); end != endNone {
				return end
			}
			hb.Reset(heartbeat)
		case <-c.sub.Done():
			// The next step sends what a closed stream still has, or ends.
		case <-r.Context().Done():
			return endClientGone
		}
	}
}

// setHeaders sets the response's headers.
func (c *conn) setHeaders(r *http.Request) {
	hdr := c.w.Header()
	hdr.Set("Content-Type", "text/event-stream; charset=utf-8")
	hdr.Set("Cache-Control", "no-cache, no-transform")
	hdr.Set("X-Accel-Buffering", "no")
	hdr.Set("X-Content-Type-Options", "nosniff")
	if r.ProtoMajor == 1 && r.ProtoMinor >= 1 {
		hdr.Set("Connection", "keep-alive")
	}
}

// prologue returns the frames that open the body: the retry field, then a
// reset event if the resume point could not be used.
func (c *conn) prologue(r *http.Request, retry time.Duration) [][]byte {
	sm := c.st.m
	head := [][]byte{AppendRetry(nil, retry)}
	if rs := c.sub.Reset; rs != nil {
		rs.LastEventID = truncate(rs.LastEventID, 128)
		data, _ := json.Marshal(rs)
		frame, _ := AppendEvent(nil, Event{Type: "reset", Data: data})
		head = append(head, frame)
		sm.reset(rs.Reason)
	}
	if ResumePoint(r) != "" {
		sm.replays.Inc()
		sm.replayed.Add(float64(c.sub.Backlog))
	}
	return head
}
