package main

// tempstream watch: a terminal client of the event stream, built on
// github.com/r3labs/sse/v2's client, with what that client lacks added
// around it:
//   - it returns nil on a clean end of stream (a server restarting ends its
//     streams that way) instead of reconnecting: runWatch loops around it;
//   - its default backoff gives up 15 minutes after the first attempt, never
//     resets, ignores retry: and does not watch the context: runWatch gives it
//     a strategy that never gives up, is capped at the server's retry:, starts
//     over once a connection delivers events, and stops when ctx is done;
//   - it treats every non-200 answer alike: the ResponseValidator tells the
//     answers that will never change (404 unknown stream, 401, 403, …) from
//     the ones worth retrying, and ends the retries on the first kind with
//     backoff.Permanent.
//
// Everything runs on the goroutine that called runWatch, except the client's
// read loop, which only hands events over and ends before SubscribeWithContext
// returns; nothing is left running when runWatch returns.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"mime"
	"net"
	"net/http"
	"net/url"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unicode"
	"unicode/utf8"

	r3sse "github.com/r3labs/sse/v2"
	"gopkg.in/cenkalti/backoff.v1"
)

const (
	watchFirstDelay = 250 * time.Millisecond // first reconnection delay
	watchMaxDelay   = 5 * time.Second        // cap on the delay when the server sent no retry:
	watchMostDelay  = time.Minute            // cap on what retry: and Retry-After can ask for
	watchMaxEvent   = 1 << 20                // longest event the client reads, bytes
)

// watchOptions is what the command line of tempstream watch asks for.
type watchOptions struct {
	url     string
	json    bool
	sensors string // "a,b", empty for every sensor
}

func newWatchFlagSet(o *watchOptions) *flag.FlagSet {
	fs := flag.NewFlagSet("watch", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.BoolVar(&o.json, "json", false, `print each reading as one line of JSON: the event's data plus its "id"`)
	fs.StringVar(&o.sensors, "sensor", "", "follow only the sensors in the comma-separated `list` (the server filters)")
	return fs
}

// parseWatchArgs reads tempstream watch's flags and URL (flags may come
// before or after it). It returns flag.ErrHelp after writing the help to
// stdout, and a usageError for anything it cannot use.
func parseWatchArgs(args []string, getenv func(string) string, stdout io.Writer) (watchOptions, error) {
	var o watchOptions
	fs := newWatchFlagSet(&o)
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				writeWatchUsage(stdout, fs)
				return o, flag.ErrHelp
			}
			return o, usageError{fmt.Errorf("watch: %v (see tempstream watch --help)", err)}
		}
		if fs.NArg() == 0 {
			break
		}
		positional = append(positional, fs.Arg(0))
		args = fs.Args()[1:]
	}
	if len(positional) > 1 {
		return o, usageError{fmt.Errorf("watch: unexpected argument %q (one URL at most; see tempstream watch --help)", positional[1])}
	}
	raw := ""
	if len(positional) == 1 {
		raw = positional[0]
	} else {
		var err error
		if raw, err = localURL(getenv, "/events"); err != nil {
			return o, usageError{fmt.Errorf("watch: %v", err)}
		}
	}
	u, err := watchURL(raw, o.sensors)
	if err != nil {
		return o, usageError{fmt.Errorf("watch: %v", err)}
	}
	o.url = u
	return o, nil
}

// watchURL checks raw (an http or https URL; an empty path means /events)
// and adds sensor=<sensors> to its query when sensors is not empty.
func watchURL(raw, sensors string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", fmt.Errorf("URL %q: %v", raw, err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("URL %q: want http://host[:port]/path or https://…", raw)
	}
	if u.Path == "" || u.Path == "/" {
		u.Path = "/events"
	}
	if sensors != "" {
		var names []string
		for _, s := range strings.Split(sensors, ",") {
			if s = strings.TrimSpace(s); s != "" {
				names = append(names, s)
			}
		}
		if len(names) == 0 {
			return "", fmt.Errorf("--sensor %q names no sensor", sensors)
		}
		q := u.Query()
		q.Set("sensor", strings.Join(names, ","))
		// Commas need no escaping in a query; keeping them makes the URL
		// in messages read as typed.
		u.RawQuery = strings.ReplaceAll(q.Encode(), "%2C", ",")
	}
	return u.String(), nil
}

func writeWatchUsage(w io.Writer, fs *flag.FlagSet) {
	fmt.Fprint(w, `Usage: tempstream watch [flags] [URL]

Follows a tempstream event stream and prints one line per reading: local time,
sensor, °C. URL defaults to http://127.0.0.1:<port>/events, the port taken from
TEMPSTREAM_ADDR (5000 when unset); a URL without a path means /events.

It reconnects after any error or end of stream, resuming after the last reading
it printed (Last-Event-ID), and prints a notice on stderr when the server says
readings were missed. Ctrl-C stops it (exit 0). It exits 1 only when the server
answers that the stream will never be served to it (404 no such stream,
401/403 not allowed, any other 4xx but 408 and 429).

Flags:
`)
	fs.VisitAll(func(f *flag.Flag) {
		typ, usage := flag.UnquoteUsage(f)
		fmt.Fprintf(w, "  --%s\n      %s\n", strings.TrimSpace(f.Name+" "+typ), usage)
	})
}

// runWatch follows the stream at the URL of args (see writeWatchUsage) and
// prints its readings to stdout, notices to stderr, until ctx is done or
// SIGINT/SIGTERM arrives (nil), or the server's answer is final (an error).
func runWatch(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	opts, err := parseWatchArgs(args, getenv, stdout)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	// subCtx also ends when stdout fails: then there is no one to print for.
	subCtx, cancel := context.WithCancel(ctx)
	defer cancel()

	dialer := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 15 * time.Second}
	tr := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           dialer.DialContext,
		TLSHandshakeTimeout:   10 * time.Second,
		ResponseHeaderTimeout: 30 * time.Second,
		ForceAttemptHTTP2:     true,
	}
	defer tr.CloseIdleConnections()

	w := &watcher{
		opts:   opts,
		stdout: stdout,
		stderr: stderr,
		cancel: cancel,
		delay:  newWatchBackOff(),
		width:  6,
	}
	w.client = r3sse.NewClient(opts.url, r3sse.ClientMaxBufferSize(watchMaxEvent))
	// No Timeout: a stream lasts as long as it lasts. The transport bounds
	// dialing and waiting for the answer's head; TCP keep-alive finds a dead peer.
	w.client.Connection = &http.Client{Transport: tr}
	w.client.ResponseValidator = w.validate
	w.client.ReconnectNotify = w.notifyRetry
	w.client.ReconnectStrategy = backoff.WithContext(w.delay, subCtx)

	for {
		err := w.client.SubscribeWithContext(subCtx, "", w.handle)
		if w.outErr != nil {
			return fmt.Errorf("watch: writing the output: %w", w.outErr)
		}
		if ctx.Err() != nil {
			return nil // Ctrl-C, or the caller is done
		}
		var final *finalAnswer
		if errors.As(err, &final) {
			if final.status == http.StatusNoContent {
				w.notef("%s", final.Error())
				return nil
			}
			return err
		}
		// The r3labs client returns nil when the server ends the stream
		// cleanly, as a restarting server does, and gives up on nothing else
		// while subCtx lives (the strategy never stops).
		next := w.delay.NextBackOff()
		if err == nil {
			w.notef("the stream ended; reconnecting in %v…", roundDelay(next))
		} else {
			w.notef("%v; reconnecting in %v…", err, roundDelay(next))
		}
		t := time.NewTimer(next)
		select {
		case <-subCtx.Done():
			t.Stop()
		case <-t.C:
		}
	}
}

// watcher is the state of one runWatch. Every method runs on runWatch's
// goroutine: the r3labs client calls the validator, the handler and the
// strategy synchronously from SubscribeWithContext.
type watcher struct {
	opts           watchOptions
	stdout, stderr io.Writer
	cancel         context.CancelFunc
	client         *r3sse.Client
	delay          *watchBackOff

	connects int   // answers that opened a stream
	gotEvent bool  // the current connection delivered an event
	width    int   // widest sensor ID printed, for the column
	outErr   error // writing to stdout failed
}

// notef writes one line to stderr.
func (w *watcher) notef(format string, a ...any) {
	fmt.Fprintf(w.stderr, "watch: "+format+"\n", a...)
}

func (w *watcher) notifyRetry(err error, next time.Duration) {
	if ue := (*url.Error)(nil); errors.As(err, &ue) {
		err = ue.Err // not `Get "<the URL>": …` each time
	}
	w.notef("%v; reconnecting in %v…", err, roundDelay(next))
}

// finalAnswer is an answer that retrying would only repeat.
type finalAnswer struct {
	url    string
	status int
	text   string // the status line
	msg    string // the answer's JSON "error", if any
}

func (e *finalAnswer) Error() string {
	s := fmt.Sprintf("watch: %s answered %s", e.url, e.text)
	if e.msg != "" {
		s += ": " + e.msg
	}
	if e.status == http.StatusNoContent {
		s += " (the server asks clients to stop)"
	}
	return s
}

// validate is the client's ResponseValidator. A 200 event stream is
// accepted; a final answer ends the retries (backoff.Permanent); anything
// else is an error to retry. The client leaves the body of a refused answer
// to the validator, so each refusal closes it.
func (w *watcher) validate(_ *r3sse.Client, resp *http.Response) error {
	ct := resp.Header.Get("Content-Type")
	if mt, _, _ := mime.ParseMediaType(ct); resp.StatusCode == http.StatusOK && mt == "text/event-stream" {
		w.connected()
		return nil
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	var jerr struct {
		Error string `json:"error"`
	}
	_ = json.Unmarshal(body, &jerr)
	msg := clean(jerr.Error)
	if mt, _, _ := mime.ParseMediaType(ct); msg == "" && (mt == "text/plain" || ct == "") {
		first, _, _ := strings.Cut(string(body), "\n")
		msg = clean(strings.TrimSpace(first))
	}
	status := resp.StatusCode
	switch {
	case status == http.StatusOK:
		return fmt.Errorf("%s answered 200 with Content-Type %q, not an event stream", w.opts.url, ct)
	case status == http.StatusNoContent,
		status >= 400 && status < 500 && status != http.StatusRequestTimeout && status != http.StatusTooManyRequests:
		return backoff.Permanent(&finalAnswer{url: w.opts.url, status: status, text: resp.Status, msg: msg})
	}
	if s := resp.Header.Get("Retry-After"); s != "" {
		if secs, err := strconv.Atoi(s); err == nil && secs > 0 {
			w.delay.atLeast(time.Duration(min(secs, int(watchMostDelay/time.Second))) * time.Second)
		}
	}
	if msg != "" {
		return fmt.Errorf("%s answered %s: %s", w.opts.url, resp.Status, msg)
	}
	return fmt.Errorf("%s answered %s", w.opts.url, resp.Status)
}

// connected runs when an answer opened a stream.
func (w *watcher) connected() {
	w.connects++
	w.gotEvent = false
	if w.connects == 1 {
		w.notef("connected to %s", w.opts.url)
		return
	}
	if id, _ := w.client.LastEventID.Load().([]byte); len(id) > 0 {
		w.notef("reconnected, resuming after %s", clean(string(id)))
	} else {
		w.notef("reconnected")
	}
}

// handle is the client's event handler. The r3labs client hands over every
// block with any field, so a lone retry: arrives here as an event without a
// type; events other than temperature and reset are ignored.
func (w *watcher) handle(msg *r3sse.Event) {
	if len(msg.Retry) > 0 {
		if ms, err := strconv.ParseInt(string(msg.Retry), 10, 64); err == nil && ms > 0 {
			w.delay.setMax(time.Duration(min(ms, int64(watchMostDelay/time.Millisecond))) * time.Millisecond)
		}
	}
	switch string(msg.Event) {
	case "temperature":
		w.eventArrived()
		w.printReading(msg)
	case "reset":
		w.eventArrived()
		w.printReset(msg.Data)
	}
}

// eventArrived starts the reconnection delays over once a connection
// delivers: a server that keeps answering and closing at once is retried
// less and less often, one that streamed is retried soon.
func (w *watcher) eventArrived() {
	if !w.gotEvent {
		w.gotEvent = true
		w.delay.restart()
	}
}

// watchReading is the JSON data of a temperature event.
type watchReading struct {
	Data    string   `json:"data"`
	Celsius *float64 `json:"celsius"`
	Sensor  string   `json:"sensor"`
	At      string   `json:"at"`
}

func (w *watcher) printReading(msg *r3sse.Event) {
	id := string(msg.ID)
	if w.opts.json {
		var fields map[string]json.RawMessage
		if err := json.Unmarshal(msg.Data, &fields); err != nil || fields == nil {
			w.notef("skipping event %s: its data is not a JSON object: %s", clean(id), clean(string(msg.Data)))
			return
		}
		w.write(jsonLine(id, msg.Data, fields))
		return
	}
	var r watchReading
	if err := json.Unmarshal(msg.Data, &r); err != nil {
		w.notef("skipping event %s: %v: %s", clean(id), err, clean(string(msg.Data)))
		return
	}
	celsius := math.NaN()
	if r.Celsius != nil {
		celsius = *r.Celsius
	} else if f, err := strconv.ParseFloat(r.Data, 64); err == nil {
		celsius = f
	}
	if math.IsNaN(celsius) {
		w.notef("skipping event %s: no temperature in %s", clean(id), clean(string(msg.Data)))
		return
	}
	clock := "--:--:--"
	if at, err := time.Parse(time.RFC3339Nano, r.At); err == nil {
		clock = at.Local().Format("15:04:05")
	}
	sensor := clean(r.Sensor)
	if sensor == "" {
		sensor = "?"
	}
	w.width = max(w.width, utf8.RuneCountInString(sensor))
	w.write(fmt.Appendf(nil, "%s  %-*s %6.2f °C\n", clock, w.width, sensor, celsius))
}

// jsonLine is data (a JSON object, decoded in fields) with "id" added in
// front, as one line.
func jsonLine(id string, data []byte, fields map[string]json.RawMessage) []byte {
	idJSON, _ := json.Marshal(id)
	var rest bytes.Buffer
	if _, has := fields["id"]; has || json.Compact(&rest, data) != nil {
		fields["id"] = idJSON // keys in sorted order, then
		line, _ := json.Marshal(fields)
		return append(line, '\n')
	}
	line := append([]byte(`{"id":`), idJSON...)
	if len(fields) > 0 {
		line = append(line, ',')
	}
	line = append(line, rest.Bytes()[1:]...) // the server's fields in its order
	return append(line, '\n')
}

func (w *watcher) write(line []byte) {
	if w.outErr != nil {
		return
	}
	if _, err := w.stdout.Write(line); err != nil {
		w.outErr = err
		w.cancel()
	}
}

// printReset explains a reset event on stderr: the server could not resume
// after the last reading printed.
func (w *watcher) printReset(data []byte) {
	var r struct {
		Reason      string `json:"reason"`
		LastEventID string `json:"lastEventId"`
		OldestID    string `json:"oldestId"`
	}
	_ = json.Unmarshal(data, &r)
	from := "live readings"
	if r.OldestID != "" {
		from = clean(r.OldestID)
	}
	last := clean(r.LastEventID)
	switch r.Reason {
	case "expired":
		w.notef("notice: readings were missed (expired): the server no longer keeps those after %s; continuing from %s", last, from)
	case "unknown":
		w.notef("notice: readings may have been missed (unknown): the server does not know %s (it may have restarted); continuing from %s", last, from)
	default:
		w.notef("notice: the server could not resume (%s): %s; continuing from %s", clean(r.Reason), clean(string(bytes.TrimSpace(data))), from)
	}
}

// clean makes text from the network safe to print on a terminal: control
// characters and invalid UTF-8 become U+FFFD, and it is cut at 200 runes.
func clean(s string) string {
	var b strings.Builder
	n := 0
	for _, r := range s {
		if n++; n > 200 {
			b.WriteString("…")
			break
		}
		if r == utf8.RuneError || !unicode.IsGraphic(r) {
			r = utf8.RuneError
		}
		b.WriteRune(r)
	}
	return b.String()
}

func roundDelay(d time.Duration) time.Duration {
	if d >= time.Second {
		return d.Round(100 * time.Millisecond)
	}
	return d.Round(10 * time.Millisecond)
}

// watchBackOff is the delay before each reconnection: exponential from
// watchFirstDelay with jitter, capped at the server's retry: (watchMaxDelay
// until it sends one), never giving up. Its Reset does nothing, because the
// r3labs client resets its strategy at every subscribe, including after a
// stream that ended at once; the watcher calls restart when a connection
// delivered events.
type watchBackOff struct {
	exp   *backoff.ExponentialBackOff
	floor time.Duration // the next delay's least (Retry-After), then 0
}

func newWatchBackOff() *watchBackOff {
	exp := backoff.NewExponentialBackOff()
	exp.InitialInterval = watchFirstDelay
	exp.Multiplier = 2
	exp.RandomizationFactor = 0.5
	exp.MaxInterval = watchMaxDelay
	exp.MaxElapsedTime = 0 // never stop
	exp.Reset()
	return &watchBackOff{exp: exp}
}

func (b *watchBackOff) NextBackOff() time.Duration {
	d := min(b.exp.NextBackOff(), b.exp.MaxInterval) // jitter may go past the cap
	d = max(d, b.floor)
	b.floor = 0
	return d
}

func (b *watchBackOff) Reset() {}

func (b *watchBackOff) restart() { b.exp.Reset() }

// setMax caps the delay at d (the server's retry:).
func (b *watchBackOff) setMax(d time.Duration) {
	b.exp.MaxInterval = d
	b.exp.InitialInterval = min(watchFirstDelay, d)
}

// atLeast makes the next delay at least d (Retry-After).
func (b *watchBackOff) atLeast(d time.Duration) { b.floor = d }
