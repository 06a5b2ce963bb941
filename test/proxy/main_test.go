// Package proxy_test runs tempstream behind real proxies (nginx, HAProxy and
// Squid from Debian's packages) and measures when events arrive through them.
//
// TestMain builds the binary once; each test starts its own tempstream (a
// child process) and its own proxy process on free loopback ports, with a
// configuration written into a temporary directory, and stops both when it
// ends. A missing proxy binary fails the test (`make test-deps-proxies`
// installs them); it never skips. Delays are measured against each event's
// "at" (its publish time) and against a direct connection read by the same
// process, so a stall of the whole machine is not blamed on a proxy.
package proxy_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/tempstream/tempstream/internal/testharness"
	"github.com/tempstream/tempstream/internal/testlog"
	"github.com/tempstream/tempstream/pkg/sse"
	"github.com/tempstream/tempstream/pkg/sse/ssetest"
)

// bin is the tempstream binary, built on first use.
var bin testharness.Binary

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "tempstream-proxy-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	bin.Dir = dir
	// Every process, connection and reader is ended by the test that made it.
	goleak.VerifyTestMain(m, goleak.Cleanup(func(code int) {
		_ = os.RemoveAll(dir)
		os.Exit(code)
	}))
}

// ---------------------------------------------------------------------------
// Processes

// startProcess starts path with args in dir, its output into dir/name.out,
// in a process group of its own (nginx forks workers), and stops the whole
// group when the test ends (SIGTERM, then SIGKILL after 5 s), showing its
// output and the files in show if the test failed. Should the test process
// die without cleaning up (killed, or a timeout's panic), the kernel sends
// the process SIGTERM: nginx's master then stops its workers, haproxy and
// squid exit.
func startProcess(t testing.TB, name, dir string, show []string, path string, args ...string) *testharness.Process {
	t.Helper()
	return testharness.Start(t, name, path, args, testharness.ProcOptions{Dir: dir, Output: name + ".out", Group: true, Term: 5 * time.Second, Show: show})
}

// lookBinary finds a program in PATH or the sbin directories (Debian puts
// nginx, haproxy and squid in /usr/sbin, which a user's PATH may lack). A
// missing one fails the test: these tests prove something only when run.
func lookBinary(t testing.TB, name, pkg string) string {
	t.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	for _, dir := range []string{"/usr/sbin", "/usr/local/sbin", "/sbin"} {
		p := filepath.Join(dir, name)
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
			return p
		}
	}
	t.Fatalf("%s is not installed (not in PATH, /usr/sbin or /usr/local/sbin): the proxy tests run the real one. "+
		"Install it with `make test-deps-proxies` (apt-get install -y %s)", name, pkg)
	return ""
}

// ---------------------------------------------------------------------------
// tempstream

// server is a tempstream process.
type server struct {
	*testharness.Child
	addr  string
	url   string
	token string // --publish-token, when the test gave one
	logs  *testlog.Sink
}

// startServer runs tempstream on 127.0.0.1:0 with JSON logs and args, and
// stops it when the test ends (SIGTERM, then SIGKILL after 5 s).
func startServer(t testing.TB, args ...string) *server {
	t.Helper()
	// The memory store: these tests are about the proxies, and it starts
	// fastest; the stream and its IDs behave the same on JetStream.
	all := append([]string{"--addr", "127.0.0.1:0", "--log-format", "json", "--seed", "1", "--store", "memory"}, args...)
	s := &server{}
	for i, a := range all {
		if a == "--publish-token" && i+1 < len(all) {
			s.token = all[i+1]
		}
	}
	s.Child = testharness.StartChild(t, "tempstream", bin.Path(t), all, 10*time.Second, testharness.ProcOptions{Term: 5 * time.Second})
	s.addr, s.url, s.logs = s.Addr, "http://"+s.Addr, s.Logs
	return s
}

// publish posts one reading of sensor sim-1 through the ingest API (the
// server needs --publish-token) and returns its event ID.
func (s *server) publish(t testing.TB, celsius float64) string {
	t.Helper()
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	body := fmt.Sprintf(`{"sensor":"sim-1","celsius":%v}`, celsius)
	req, err := http.NewRequest(http.MethodPost, s.url+"/api/v1/readings", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+s.token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := (&http.Client{Transport: tr, Timeout: 5 * time.Second}).Do(req)
	if err != nil {
		t.Fatalf("publishing: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("publishing: %s %s", resp.Status, b)
	}
	var r struct{ IDs []string }
	if err := json.Unmarshal(b, &r); err != nil || len(r.IDs) != 1 {
		t.Fatalf("publishing: answer %s: %v", b, err)
	}
	return r.IDs[0]
}

// ---------------------------------------------------------------------------
// Streams

// arrival is one event as a client received it.
type arrival struct {
	sse.Received
	Seq       uint64
	Published time.Time // the reading's "at": when the server published it
	Got       time.Time // when the client had the whole event
}

func (a arrival) delay() time.Duration { return a.Got.Sub(a.Published) }

// stream is an event stream read on its own goroutine (ssetest.Recorder),
// which notes when each event arrived; Comments and LastByte tell of the
// heartbeats.
type stream struct {
	*ssetest.Recorder
	resp *http.Response
}

// openStream opens url with ssetest.Dial (HTTP/1.1 by default; o.Addr for a
// reverse proxy, o.Proxy for a forward one) and expects a 200 event stream
// with tempstream's Content-Type.
func openStream(t testing.TB, url string, o ssetest.Options) *stream {
	t.Helper()
	return record(t, ssetest.Dial(t, url, o))
}

// record checks s's Content-Type and reads it from now on.
func record(t testing.TB, s *ssetest.Stream) *stream {
	t.Helper()
	if ct := s.Resp.Header.Get("Content-Type"); ct != "text/event-stream; charset=utf-8" {
		t.Fatalf("Content-Type = %q, want text/event-stream; charset=utf-8", ct)
	}
	return &stream{Recorder: s.Record(t), resp: s.Resp}
}

// arrived is ev with its arrival time as an arrival.
func arrived(ev sse.Received, at time.Time) arrival {
	a := arrival{Received: ev, Got: at}
	if _, seq, ok := splitID(ev.LastEventID); ok {
		a.Seq = seq
	}
	var d struct{ At string }
	if ev.Type == "temperature" && json.Unmarshal(ev.Data, &d) == nil {
		a.Published, _ = time.Parse(time.RFC3339Nano, d.At)
	}
	return a
}

// next returns the next event, failing the test if none comes within
// timeout or the stream ends.
func (s *stream) next(t testing.TB, timeout time.Duration) arrival {
	t.Helper()
	return arrived(s.MustNext(t, timeout))
}

// live skips the event a new connection gets at once (the newest retained,
// published before the client came) and returns the next n events, each a
// temperature event with a publish time, consecutive.
func (s *stream) live(t testing.TB, n int, timeout time.Duration) []arrival {
	t.Helper()
	first := s.next(t, 5*time.Second)
	var got []arrival
	for len(got) < n {
		a := s.next(t, timeout)
		if a.Type != "temperature" || a.Published.IsZero() {
			t.Fatalf("event %s %q %s: want a temperature event with \"at\"", a.LastEventID, a.Type, a.Data)
		}
		got = append(got, a)
	}
	checkConsecutive(t, "live events", got, first.Seq+1)
	return got
}

// ---------------------------------------------------------------------------
// Checks and measures

// splitID splits an event ID: "<epoch>-<seq>" (the memory store) or
// "<seq>" (JetStream's sequence numbers, no epoch).
func splitID(id string) (epoch string, seq uint64, ok bool) {
	i := strings.LastIndexByte(id, '-')
	if i == 0 {
		return "", 0, false
	}
	if i > 0 {
		epoch = id[:i]
	}
	seq, err := strconv.ParseUint(id[i+1:], 10, 64)
	return epoch, seq, err == nil && seq > 0
}

// checkConsecutive fails unless evs are temperature events of one epoch
// numbered first, first+1, …: nothing lost, nothing twice.
func checkConsecutive(t testing.TB, who string, evs []arrival, first uint64) {
	t.Helper()
	if len(evs) == 0 {
		return
	}
	epoch, _, _ := splitID(evs[0].LastEventID)
	for i, a := range evs {
		want := strconv.FormatUint(first+uint64(i), 10)
		if epoch != "" {
			want = epoch + "-" + want
		}
		if a.Type != "temperature" || a.LastEventID != want {
			t.Fatalf("%s: event %d is %s %q, want temperature %s (a gap or a duplicate)", who, i, a.LastEventID, a.Type, want)
		}
	}
}

// pair is one event as it arrived through the proxy and on a direct
// connection to the same server, read by the same process.
type pair struct{ via, direct arrival }

// added is how much later the event came through the proxy than directly.
// A stall of the whole machine (the server, or this process) delays both
// copies alike; what remains is the proxy's doing.
func (p pair) added() time.Duration { return p.via.Got.Sub(p.direct.Got) }

// openPair opens a direct reference stream on srv, then the stream through
// the proxy with open, so the reference has every event the other gets.
func openPair(t testing.TB, srv *server, open func() *stream) (via, ref *stream) {
	t.Helper()
	ref = openStream(t, srv.url+"/events", ssetest.Options{})
	return open(), ref
}

// measure reads n live events through s and the same events on ref (opened
// first, see openPair), and pairs them.
func measure(t testing.TB, s, ref *stream, n int) []pair {
	t.Helper()
	evs := s.live(t, n, 2*time.Second)
	byID := map[string]arrival{}
	for last := evs[len(evs)-1].LastEventID; ; {
		a := ref.next(t, 5*time.Second)
		byID[a.LastEventID] = a
		if a.LastEventID == last {
			break
		}
	}
	ps := make([]pair, len(evs))
	for i, a := range evs {
		d, ok := byID[a.LastEventID]
		if !ok || !bytes.Equal(d.Data, a.Data) {
			t.Fatalf("event %s %s came through the proxy; the direct stream had %s", a.LastEventID, a.Data, d.Data)
		}
		ps[i] = pair{via: a, direct: d}
	}
	return ps
}

// delayStats sums up durations.
type delayStats struct {
	n           int
	median, max time.Duration
}

func stats(ds []time.Duration) delayStats {
	ds = slices.Sorted(slices.Values(ds))
	if len(ds) == 0 {
		return delayStats{}
	}
	return delayStats{n: len(ds), median: ds[len(ds)/2], max: ds[len(ds)-1]}
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond)) }

// checkDelays logs the delays (publish to arrival) of events through via
// and what the proxy added to them, and fails if an event arrived more than
// limit after it was published, unless its direct copy was as late (a stall
// of the machine, logged, not the proxy's doing: the proxy must not add
// limit). The publish time has millisecond precision (truncated), so a
// delay reads up to 1 ms long.
func checkDelays(t testing.TB, via string, ps []pair, limit time.Duration) (delay, added delayStats) {
	t.Helper()
	var ds, as []time.Duration
	for _, p := range ps {
		ds, as = append(ds, p.via.delay()), append(as, p.added())
	}
	delay, added = stats(ds), stats(as)
	t.Logf("DELAY %s: %d events, publish to arrival median %s, max %s; later than on a direct connection: median %s, max %s",
		via, delay.n, ms(delay.median), ms(delay.max), ms(added.median), ms(added.max))
	for _, p := range ps {
		switch d := p.via.delay(); {
		case d < -2*time.Millisecond:
			t.Errorf("through %s: event %s arrived %s before its publish time: clock or parsing broken", via, p.via.LastEventID, ms(d))
		case p.added() > limit:
			t.Errorf("through %s: event %s arrived %s after it was published, %s after the direct copy: over %v",
				via, p.via.LastEventID, ms(d), ms(p.added()), limit)
		case d > limit:
			t.Logf("through %s: event %s arrived %s after it was published, but the direct copy was as late (%s): the machine stalled, not the proxy",
				via, p.via.LastEventID, ms(d), ms(p.direct.delay()))
		}
	}
	return delay, added
}

// checkOneByOne fails unless every event came through the proxy before the
// next one was published: none waited for a later one, as in a burst (an
// event whose direct copy was late as well is logged instead: the machine
// stalled). It logs the inter-arrival times against the publish interval.
func checkOneByOne(t testing.TB, via string, ps []pair, interval time.Duration) {
	t.Helper()
	var gaps []time.Duration
	for i := 1; i < len(ps); i++ {
		prev, next := ps[i-1], ps[i]
		gaps = append(gaps, next.via.Got.Sub(prev.via.Got))
		if prev.via.Got.Before(next.via.Published) {
			continue
		}
		msg := fmt.Sprintf("through %s: event %s arrived %s, after the next one (%s) was published %s",
			via, prev.via.LastEventID, prev.via.Got.Format("15:04:05.000"), next.via.LastEventID, next.via.Published.Format("15:04:05.000"))
		if prev.direct.Got.Before(next.via.Published) {
			t.Errorf("%s: held back and sent in a burst (it came directly at %s)", msg, prev.direct.Got.Format("15:04:05.000"))
		} else {
			t.Logf("%s, as late directly: the machine stalled, not the proxy", msg)
		}
	}
	st := stats(gaps)
	t.Logf("INTERARRIVAL %s: publish interval %v, inter-arrival median %s, max %s", via, interval, ms(st.median), ms(st.max))
	if st.median < interval/2 || st.median > interval*3/2 {
		t.Errorf("through %s: median inter-arrival %s, publish interval %v", via, ms(st.median), interval)
	}
}

// ---------------------------------------------------------------------------
// Scenarios shared by every proxy

// checkIdleSurvives: the stream s (through a proxy whose idle timeout is
// timeout, from a server publishing nothing but heartbeats) stays open for
// idle, gets heartbeats, then still carries an event published at its end.
func checkIdleSurvives(t testing.TB, via string, srv *server, s *stream, timeout, idle, heartbeat time.Duration) {
	t.Helper()
	s.next(t, 5*time.Second) // the newest reading, at once
	start, hb0 := time.Now(), s.Stream().Comments()
	// The idle period itself is what is tested: no event, no end.
	switch ev, _, err := s.Next(idle); {
	case err == nil:
		t.Fatalf("through %s: unexpected event while idle: %s %s", via, ev.LastEventID, ev.Data)
	case !ssetest.IsTimeout(err):
		_, ended := s.End(t, time.Second)
		t.Fatalf("through %s: the idle stream was closed after %v (%v): heartbeats every %v did not keep it open under a %v timeout",
			via, ended.Sub(start).Round(time.Millisecond), err, heartbeat, timeout)
	}
	hbs := s.Stream().Comments() - hb0
	if min := int(idle/heartbeat) / 2; hbs < min { // half: timers drift on a busy machine
		t.Errorf("through %s: %d heartbeats in %v, want at least %d", via, hbs, idle, min)
	}
	id := srv.publish(t, 21.5)
	a := s.next(t, 2*time.Second)
	if a.LastEventID != id {
		t.Fatalf("through %s: after idling got %s, want the new event %s", via, a.LastEventID, id)
	}
	t.Logf("IDLE %s: open after %v idle (timeout %v), %d heartbeats passed, then event %s arrived %s after publishing",
		via, idle, timeout, hbs, id, ms(a.delay()))
}

// checkIdleCut is the control for checkIdleSurvives: without heartbeats the
// proxy closes the idle stream at about its timeout, so the idle test would
// fail if heartbeats did not work.
func checkIdleCut(t testing.TB, via string, s *stream, timeout time.Duration) {
	t.Helper()
	s.next(t, 5*time.Second)
	idleFrom := s.Stream().LastByte()
	err, ended := s.End(t, 3*timeout)
	after := ended.Sub(idleFrom)
	t.Logf("IDLECUT %s: without heartbeats the stream ended %v after its last byte (%v); timeout %v",
		via, after.Round(time.Millisecond), err, timeout)
	if after < timeout/2 { // the proxy's clock starts when it last read, a little before the client did
		t.Fatalf("through %s: stream ended %v after its last byte, before the %v timeout: %v", via, after, timeout, err)
	}
}

// checkResume: a client reads through a proxy (o: its Addr or Proxy), its
// connection is cut mid-stream, it reconnects through the same proxy with
// Last-Event-ID and gets every event it missed, then live ones, each once.
func checkResume(t testing.TB, via string, srv *server, o ssetest.Options) {
	t.Helper()
	ref := openStream(t, srv.url+"/events", ssetest.Options{})
	ref.next(t, 5*time.Second)

	c := openStream(t, srv.url+"/events", o)
	var last arrival
	for range 5 {
		last = c.next(t, 5*time.Second)
	}
	c.Stop() // cut mid-stream
	// The reference sees the events the client misses while it is away.
	var refEvs []arrival
	for len(refEvs) < 5 {
		if a := ref.next(t, 5*time.Second); a.Seq > last.Seq {
			refEvs = append(refEvs, a)
		}
	}
	o.LastEventID = last.LastEventID
	c2 := openStream(t, srv.url+"/events", o)
	var got []arrival
	for len(got) < len(refEvs)+5 {
		got = append(got, c2.next(t, 5*time.Second))
	}
	checkConsecutive(t, "resumed through "+via, got, last.Seq+1)
	for i, r := range refEvs {
		if got[i].LastEventID != r.LastEventID || !bytes.Equal(got[i].Data, r.Data) {
			t.Fatalf("through %s: resumed event %s %s, the reference had %s %s", via, got[i].LastEventID, got[i].Data, r.LastEventID, r.Data)
		}
	}
	t.Logf("RESUME %s: cut after %s, reconnected with Last-Event-ID, got %s…%s: %d missed events replayed, none lost or repeated",
		via, last.LastEventID, got[0].LastEventID, got[len(got)-1].LastEventID, len(refEvs))
}

// checkHTTP10 opens a stream with an HTTP/1.0 request (no chunked encoding
// possible) through a proxy (o: its Addr or Proxy, or neither), reads
// events, stops the server, and expects the response to end by connection
// close after whole events.
func checkHTTP10(t testing.TB, via string, srv *server, o ssetest.Options) {
	t.Helper()
	o.Proto = "HTTP/1.0"
	s := openStream(t, srv.url+"/events", o)
	if len(s.resp.TransferEncoding) != 0 || s.resp.ContentLength != -1 || !s.resp.Close {
		t.Fatalf("through %s: HTTP/1.0 response %s with Transfer-Encoding %v, Content-Length %d, close %v: want a body ended by close",
			via, s.resp.Proto, s.resp.TransferEncoding, s.resp.ContentLength, s.resp.Close)
	}
	if v := s.resp.Header.Get("Connection"); strings.EqualFold(v, "keep-alive") {
		t.Fatalf("through %s: HTTP/1.0 response says Connection: %s", via, v)
	}
	got := s.live(t, 5, 2*time.Second)
	srv.Terminate(t, 5*time.Second)
	if err, _ := s.End(t, 5*time.Second); !errors.Is(err, io.EOF) {
		t.Fatalf("through %s: HTTP/1.0 stream ended with %v, want a clean close (EOF)", via, err)
	}
	// Whatever came between the last read and the close is whole events.
	n := len(got)
	for {
		ev, at, err := s.Next(time.Second)
		if err != nil {
			break
		}
		got = append(got, arrived(ev, at))
	}
	checkConsecutive(t, "HTTP/1.0 through "+via, got, got[0].Seq)
	t.Logf("HTTP10 %s: %s response, no chunking, %d events, ended by close (EOF) when the server stopped", via, s.resp.Proto, n)
}
