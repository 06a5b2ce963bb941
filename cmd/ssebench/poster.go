package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// post is one reading the poster sent, and what the ingest API answered.
type post struct {
	sensor int32
	status int    // HTTP status; 0: no answer (a transport error)
	seq    uint64 // the numeric suffix of the ID in the 202 answer
	sent   int64  // Unix nanoseconds, just before the request was written; also the reading's "at" (to the millisecond)
	acked  int64  // Unix nanoseconds, once the answer was read
}

// poster sends readings to an ingest API (tempstream's POST
// /api/v1/readings): sensors readings every 1/rate seconds each, one JSON
// object per request, the posts of each period spread evenly over it
// (post k is due at start + k/(sensors·rate) and is sensor k mod sensors's),
// over conns keep-alive connections. Each reading's "at" is its send time,
// so subscribers measure delivery from the poster's write. Every accepted
// ID is kept, by sensor, for the loss accounting (ledger).
type poster struct {
	url, token string
	pattern    string
	sensors    int
	interval   time.Duration // between two posts, over all sensors
	conns      int
	client     *http.Client

	stop chan struct{}
	wg   sync.WaitGroup

	sent, accepted, errs atomic.Uint64
	lag, answer          Histogram // send time − due time; answer time

	mu       sync.Mutex
	posts    []post
	prefix   string // the IDs' prefix (epoch) of the first 202 answer
	prefixes int    // answers with another prefix
	statuses map[int]int
	errMsgs  map[string]int
}

// newPoster returns a poster of sensors readings every 1/rate seconds each.
// conns 0 picks one connection per 25 posts a second (1 to 64), so that a
// slow answer (a busy machine) holds up few of the posts that follow.
func newPoster(url, token, pattern string, sensors int, rate float64, conns int) *poster {
	perSec := float64(sensors) * rate
	if conns <= 0 {
		conns = min(max(int(math.Ceil(perSec/25)), 1), 64)
	}
	tr := &http.Transport{
		Proxy:               nil, // loopback only: never through $HTTP_PROXY
		MaxConnsPerHost:     conns,
		MaxIdleConnsPerHost: conns,
		IdleConnTimeout:     time.Minute,
		DisableCompression:  true,
	}
	return &poster{url: url, token: token, pattern: pattern, sensors: sensors, conns: conns,
		interval: time.Duration(float64(time.Second) / perSec),
		client:   &http.Client{Transport: tr, Timeout: 10 * time.Second},
		stop:     make(chan struct{}), statuses: map[int]int{}, errMsgs: map[string]int{}}
}

// start posts from now until stopped, at most maxPosts readings and never
// past deadline: each of the conns workers takes posts w, w+conns, …
func (p *poster) start(maxPosts int, deadline time.Time) {
	t0 := time.Now()
	for w := range p.conns {
		p.wg.Go(func() { p.work(w, t0, maxPosts, deadline) })
	}
}

// halt stops posting and waits for the requests in flight.
func (p *poster) halt() {
	select {
	case <-p.stop:
	default:
		close(p.stop)
	}
	p.wg.Wait()
	p.client.CloseIdleConnections()
}

func (p *poster) work(w int, t0 time.Time, maxPosts int, deadline time.Time) {
	timer := time.NewTimer(time.Hour) // reset before each wait
	defer timer.Stop()
	for k := w; k < maxPosts; k += p.conns {
		due := t0.Add(time.Duration(k) * p.interval)
		if due.After(deadline) {
			return
		}
		if d := time.Until(due); d > 0 {
			timer.Reset(d)
			select {
			case <-timer.C:
			case <-p.stop:
				return
			}
		} else {
			select {
			case <-p.stop:
				return
			default:
			}
		}
		p.once(int32(k%p.sensors), k, due)
	}
}

// ingestAnswer is the body of a 202.
type ingestAnswer struct {
	Accepted int      `json:"accepted"`
	IDs      []string `json:"ids"`
}

// readingBody is one reading as JSON: {"sensor":…,"celsius":…,"at":…}.
func readingBody(sensor string, celsius float64, at time.Time) []byte {
	b := make([]byte, 0, 96)
	b = append(b, `{"sensor":`...)
	b = strconv.AppendQuote(b, sensor)
	b = append(b, `,"celsius":`...)
	b = strconv.AppendFloat(b, celsius, 'f', 2, 64)
	b = append(b, `,"at":"`...)
	b = at.UTC().AppendFormat(b, "2006-01-02T15:04:05.000Z")
	return append(b, `"}`...)
}

// once sends post k (of sensor s) and records the answer.
func (p *poster) once(s int32, k int, due time.Time) {
	sent := time.Now()
	p.lag.Record(sent.Sub(due))
	celsius := 20 + float64(k%1000)/100
	req, err := http.NewRequest(http.MethodPost, p.url, bytes.NewReader(readingBody(sensorName(p.pattern, int(s)), celsius, sent)))
	if err != nil {
		p.fail(err)
		return
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+p.token)
	p.sent.Add(1)
	rec := post{sensor: s, sent: sent.UnixNano()}
	resp, err := p.client.Do(req)
	if err != nil {
		p.fail(err)
		rec.acked = time.Now().UnixNano()
		p.keep(rec, "")
		return
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	now := time.Now()
	rec.acked, rec.status = now.UnixNano(), resp.StatusCode
	p.answer.Record(now.Sub(sent))
	prefix := ""
	if resp.StatusCode == http.StatusAccepted && err == nil {
		var a ingestAnswer
		if json.Unmarshal(body, &a) == nil && a.Accepted == 1 && len(a.IDs) == 1 {
			pre, seq, ok := splitID([]byte(a.IDs[0]))
			if ok {
				rec.seq, prefix = seq, string(pre)
				p.accepted.Add(1)
			}
		}
		if prefix == "" {
			p.fail(fmt.Errorf("202 with an unexpected body %.80q", body))
		}
	}
	p.keep(rec, prefix)
}

func (p *poster) keep(rec post, prefix string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.statuses[rec.status]++
	if prefix != "" {
		if p.prefix == "" {
			p.prefix = prefix
		} else if prefix != p.prefix {
			p.prefixes++
			rec.status = -1 // another epoch: not comparable with the subscribers' IDs
		}
	}
	p.posts = append(p.posts, rec)
}

func (p *poster) fail(err error) {
	p.errs.Add(1)
	p.mu.Lock()
	if len(p.errMsgs) < 16 || p.errMsgs[err.Error()] > 0 {
		p.errMsgs[err.Error()]++
	}
	p.mu.Unlock()
}

// acceptedBetween counts the posts accepted with a send time in [from, to).
func (p *poster) acceptedBetween(from, to time.Time) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, r := range p.posts {
		if r.status == http.StatusAccepted && r.sent >= from.UnixNano() && r.sent < to.UnixNano() {
			n++
		}
	}
	return n
}
