package main

import (
	"context"
	"fmt"
	"io"
	"net/netip"
	"net/url"
	"strconv"
	"time"
)

// A run with --post-url posts readings itself (poster.go) and goes:
//
//	warm-up (--post-warmup) → hold with nobody connected (--idle-hold) →
//	ramp → settle (--settle) → steady phase (--duration) → posting stops →
//	drain (--post-drain)
//
// The hold without subscribers gives the server's CPU for the ingest
// alone; the steady phase, its CPU with the subscribers; the difference
// over the events delivered in the steady phase is the CPU each delivered
// event cost. Loss is counted against the IDs the poster got back (ledger.go).

// checkIngest checks the poster's flags.
func checkIngest(c config) error {
	if c.IdleHold < 0 || c.PostWarmup < 0 || c.PostDrain < 0 {
		return fmt.Errorf("%w: --idle-hold, --post-warmup and --post-drain must not be negative", errUsage)
	}
	if c.PostURL == "" {
		return nil
	}
	u, err := url.Parse(c.PostURL)
	if err != nil || u.Scheme != "http" || u.Host == "" {
		return fmt.Errorf("%w: --post-url %q: want http://127.0.0.1:<port>/<path>", errUsage, c.PostURL)
	}
	a, err := netip.ParseAddr(u.Hostname())
	if !(u.Hostname() == "localhost" || err == nil && a.IsLoopback()) && !c.AllowRemote {
		return fmt.Errorf("%w: --post-url %s is not a loopback address (--allow-remote to post to it anyway)", errUsage, c.PostURL)
	}
	if c.PostSensors < 1 {
		return fmt.Errorf("%w: --post-sensors must be at least 1", errUsage)
	}
	if perSec := float64(c.PostSensors) * c.PostRate; perSec > 100000 {
		return fmt.Errorf("%w: --post-sensors × --post-rate is %.0f posts a second, more than 100,000", errUsage, perSec)
	}
	if c.Sensors > c.PostSensors {
		return fmt.Errorf("%w: --sensors %d is more than --post-sensors %d: some subscribers would follow a sensor nobody posts for", errUsage, c.Sensors, c.PostSensors)
	}
	if c.PostConns < 0 || c.PostConns > 1000 {
		return fmt.Errorf("%w: --post-conns must be in 0..1000", errUsage)
	}
	return nil
}

// PostResults is what the poster sent and the loss counted against it.
type PostResults struct {
	URL           string         `json:"url"`
	Sensors       int            `json:"sensors"`
	RatePerSensor float64        `json:"rate_per_sensor_per_s"`
	Conns         int            `json:"conns"`
	Sent          uint64         `json:"sent"`
	Accepted      uint64         `json:"accepted"`
	Errors        uint64         `json:"errors"`
	Statuses      map[string]int `json:"statuses"` // HTTP status ("0": no answer) → posts
	ErrorSamples  map[string]int `json:"error_samples,omitempty"`
	OtherEpochs   int            `json:"other_epochs"` // accepted with another ID prefix than the first
	IdlePerSec    float64        `json:"accepted_per_s_idle_hold"`
	SteadyPerSec  float64        `json:"accepted_per_s_steady"`
	SendLag       Quantiles      `json:"send_lag"`    // send time − due time
	AnswerTime    Quantiles      `json:"answer_time"` // request written → answer read
	DrainSeconds  float64        `json:"drain_s"`
	Expected      uint64         `json:"expected"`     // over subscribers: readings of their sensor(s) sent after they connected
	Got           uint64         `json:"got_expected"` // of those, received
	Lost          uint64         `json:"lost"`         // Expected − Got
	Dup           uint64         `json:"duplicated"`   // the same ID twice at one subscriber
	Foreign       uint64         `json:"foreign"`      // readings of a sensor the subscriber does not follow
	LossClients   uint64         `json:"clients_with_loss"`
}

// startIngest starts the poster (with --post-url), lets it warm up, then
// holds --idle-hold with nobody connected, sampling the server's CPU at
// both ends. It returns false when interrupted.
func (r *runner) startIngest(ctx context.Context, mon *monitor, res *Results, stderr io.Writer) bool {
	cfg := r.cfg
	wait := func(d time.Duration) bool {
		select {
		case <-time.After(d):
			return true
		case <-ctx.Done():
			return false
		}
	}
	if cfg.PostURL != "" {
		p := newPoster(cfg.PostURL, cfg.PostToken, cfg.SensorPattern, cfg.PostSensors, cfg.PostRate, cfg.PostConns)
		// bounded in time and count: everything the run can take, and some slack
		budget := cfg.PostWarmup + cfg.IdleHold + time.Duration(float64(cfg.N)/cfg.Ramp*float64(time.Second)) +
			30*time.Second + cfg.Settle + cfg.Duration + cfg.PostDrain + 10*time.Second
		p.start(int(budget/p.interval)+p.conns, time.Now().Add(budget))
		r.poster = p
		res.Post = &PostResults{URL: cfg.PostURL, Sensors: cfg.PostSensors, RatePerSensor: cfg.PostRate, Conns: p.conns}
		if !cfg.Quiet {
			fmt.Fprintf(stderr, "ssebench: posting %d sensors × %g/s (%g posts/s; connections: %d) to %s; warm-up %v\n",
				cfg.PostSensors, cfg.PostRate, float64(cfg.PostSensors)*cfg.PostRate, p.conns, cfg.PostURL, cfg.PostWarmup)
		}
		if !wait(cfg.PostWarmup) {
			return false
		}
	}
	if cfg.IdleHold <= 0 {
		return true
	}
	if !cfg.Quiet {
		fmt.Fprintf(stderr, "ssebench: hold of %v with nobody connected\n", cfg.IdleHold)
	}
	a := mon.sampleServer()
	ok := wait(cfg.IdleHold)
	b := mon.sampleServer()
	res.ServerIdle, res.ServerIdleEnd = a, b
	res.IdleHoldSeconds = b.At.Sub(a.At).Seconds()
	res.ServerCPUIdleSeconds = (b.CPU - a.CPU).Seconds()
	res.ServerCPUIdlePct = cpuPct(a, b)
	if r.poster != nil {
		res.Post.IdlePerSec = float64(r.poster.acceptedBetween(a.At, b.At)) / res.IdleHoldSeconds
	}
	return ok
}

// drainIngest stops posting after the steady phase, then leaves the
// subscribers --post-drain to receive what is still on its way.
func (r *runner) drainIngest(ctx context.Context, stderr io.Writer) {
	if r.poster == nil {
		return
	}
	r.poster.halt()
	if !r.cfg.Quiet {
		fmt.Fprintf(stderr, "ssebench: posting stopped; drain %v\n", r.cfg.PostDrain)
	}
	select {
	case <-time.After(r.cfg.PostDrain):
	case <-ctx.Done():
	}
}

// accountIngest fills res.Post once every client has stopped: what was
// posted, and each subscriber's readings against the poster's IDs.
func (r *runner) accountIngest(clients []*client, res *Results, steadyFrom, steadyTo time.Time) {
	p := r.poster
	if p == nil {
		return
	}
	pr := res.Post
	pr.DrainSeconds = r.cfg.PostDrain.Seconds()
	pr.Sent, pr.Accepted, pr.Errors = p.sent.Load(), p.accepted.Load(), p.errs.Load()
	pr.SendLag, pr.AnswerTime = summarize(p.lag.Snapshot(false)), summarize(p.answer.Snapshot(false))
	if s := steadyTo.Sub(steadyFrom).Seconds(); s > 0 {
		pr.SteadyPerSec = float64(p.acceptedBetween(steadyFrom, steadyTo)) / s
	}
	p.mu.Lock()
	pr.Statuses = map[string]int{}
	for st, n := range p.statuses {
		pr.Statuses[strconv.Itoa(st)] = n
	}
	if len(p.errMsgs) > 0 {
		pr.ErrorSamples = p.errMsgs
	}
	pr.OtherEpochs = p.prefixes
	l := newLedger(p.posts, p.sensors, p.prefix)
	p.mu.Unlock()
	for _, c := range clients {
		if c == nil || c.stalled || c.got == nil || c.since == 0 { // never connected: counted as such, not here
			continue
		}
		exp, got, foreign := l.account(followed(c.idx, r.cfg.Sensors), c.since, c.got)
		pr.Expected += exp
		pr.Got += got
		pr.Foreign += foreign
		pr.Dup += c.got.dup
		if got < exp {
			pr.LossClients++
		}
	}
	pr.Lost = pr.Expected - pr.Got
	res.LossMethod = "poster's IDs"
	res.Lost, res.Dup, res.ClientsWithLoss = pr.Lost, pr.Dup, pr.LossClients
}

// cpuPerEventUS is the server CPU each delivered event cost, in µs: the
// CPU of the hold with subscribers, less that of the hold without them
// scaled to the same length, over the events delivered in the hold.
func cpuPerEventUS(with time.Duration, withWall float64, without time.Duration, withoutWall float64, events uint64) float64 {
	if events == 0 || withWall <= 0 || withoutWall <= 0 {
		return 0
	}
	extra := with.Seconds() - without.Seconds()*withWall/withoutWall
	return extra / float64(events) * 1e6
}
