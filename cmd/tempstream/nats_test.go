package main

// Tests of the JetStream store (--store nats, the default) through the
// built binary: durability across kill -9, failover in a cluster (a
// tempstream process and a NATS node lost while readings flow), and the
// de-duplication of simulated ticks when every instance simulates.
// Helpers: nats_helpers_test.go.

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tempstream/tempstream/internal/testharness"
	"github.com/tempstream/tempstream/pkg/sse"
	"github.com/tempstream/tempstream/pkg/sse/ssetest"
)

// readingBatches hands out batches of readings with unique values (°C in
// hundredths, counting up), so an event can be traced to its POST.
type readingBatches struct {
	mu      sync.Mutex
	n       int
	sensors []string
	posted  map[float64]string // every reading ever sent: celsius → sensor
}

func newReadingBatches(sensors ...string) *readingBatches {
	return &readingBatches{sensors: sensors, posted: map[float64]string{}}
}

func (b *readingBatches) next(size int) []ingestReading {
	b.mu.Lock()
	defer b.mu.Unlock()
	rs := make([]ingestReading, size)
	for i := range rs {
		b.n++
		rs[i] = ingestReading{Sensor: b.sensors[b.n%len(b.sensors)], Celsius: float64(b.n) / 100}
		b.posted[rs[i].Celsius] = rs[i].Sensor
	}
	return rs
}

// wasPosted reports whether the reading of ev was sent (acknowledged or not).
func (b *readingBatches) wasPosted(t testing.TB, ev sse.Received) bool {
	t.Helper()
	r := eventReading(t, ev)
	b.mu.Lock()
	defer b.mu.Unlock()
	sensor, ok := b.posted[r.Celsius]
	return ok && sensor == r.Sensor
}

// ingestArgs are the flags of an instance that only ingests.
func ingestArgs(extra ...string) []string {
	return append([]string{"--addr", "127.0.0.1:0", "--log-format", "json", "--sim=false",
		"--publish-token", ingestToken, "--publish-rate", "1000000"}, extra...)
}

// TestKill9Restart: on the default store (embedded NATS, a data dir),
// readings acknowledged before a kill -9, including while POSTs race the
// kill, all reach a client that resumes with its last ID after a restart on
// the same data dir: exactly once, in order, with the content posted; new
// readings continue the numbering.
func TestKill9Restart(t *testing.T) {
	t.Parallel()
	args := ingestArgs("--data-dir", t.TempDir())
	batches := newReadingBatches("k9-a", "k9-b", "k9-c")
	acked := map[uint64]sent{}
	record := func(ss []sent) {
		for _, s := range ss {
			acked[s.seq] = s
		}
	}

	first := startInstance(t, "first run", args...)
	c := first.subscribe(t)
	for range 10 {
		record(first.mustPost(t, batches.next(3)))
	}
	if len(acked) != 30 || acked[1].seq != 1 || acked[30].seq != 30 {
		t.Fatalf("first 10 batches of 3 acknowledged as %v, want IDs 1…30", slices.Sorted(maps.Keys(acked)))
	}
	var seen []sse.Received
	for range 12 {
		seen = append(seen, c.MustNext(t, 5*time.Second))
	}
	if d := checkDelivery(t, "client before the kill", seen, 1, acked); d.last != 12 {
		t.Fatalf("client read up to %d, want 12", d.last)
	}
	lastSeen := seen[len(seen)-1].LastEventID

	// POSTs race the kill: whatever was acknowledged must survive it.
	racing := first.ts.client
	var (
		mu       sync.Mutex
		raced    []sent
		inFlight int
	)
	ackedSome := make(chan struct{})
	stopPosting := make(chan struct{})
	var posting sync.WaitGroup
	for range 4 {
		posting.Go(func() {
			for {
				select {
				case <-stopPosting:
					return
				default:
				}
				ss, err := first.post(context.Background(), racing, batches.next(3))
				mu.Lock()
				if err == nil {
					raced = append(raced, ss...)
					if len(raced) == 60 {
						close(ackedSome)
					}
				} else {
					inFlight++
				}
				mu.Unlock()
				if err != nil {
					return // the process is gone
				}
			}
		})
	}
	select {
	case <-ackedSome:
	case <-time.After(10 * time.Second):
		t.Fatal("20 racing batches not acknowledged within 10s")
	}
	killed := time.Now()
	first.ch.Kill(t)
	close(stopPosting)
	posting.Wait()
	c.Close()
	record(raced)
	lastAcked := slices.Max(slices.Collect(maps.Keys(acked)))
	t.Logf("killed -9 with %d readings acknowledged (IDs up to %d, %d while POSTs raced the kill; %d POSTs cut off); the client had read up to %s",
		len(acked), lastAcked, len(raced), inFlight, lastSeen)

	second := startInstance(t, "restart", args...)
	t.Logf("restarted on the same data dir: listening %v after the kill", time.Since(killed).Round(time.Millisecond))
	after := second.mustPost(t, batches.next(3))
	if after[0].seq <= lastAcked {
		t.Fatalf("after the restart the first ID is %d, not after the last acknowledged %d: IDs reused", after[0].seq, lastAcked)
	}
	record(after)
	resumed := second.subscribe(t, "Last-Event-ID: "+lastSeen).Record(t)
	final := second.mustPost(t, batches.next(2))
	record(final)
	end := final[len(final)-1].seq
	evs := resumed.Wait(t, 10*time.Second, "resumed client reaching the last acknowledged reading", func(evs []sse.Received) bool {
		return len(evs) > 0 && seqOf(t, evs[len(evs)-1].LastEventID) >= end
	})
	d := checkDelivery(t, "resumed client", evs, seqOf(t, lastSeen)+1, acked)
	unacked := 0
	for _, ev := range evs {
		seq := seqOf(t, ev.LastEventID)
		if _, ok := acked[seq]; !ok {
			unacked++
			if !batches.wasPosted(t, ev) {
				t.Errorf("resumed client: event %d (%s) was never posted", seq, ev.Data)
			}
		}
	}
	for seq := range acked {
		if seq > seqOf(t, lastSeen) && seq > d.last {
			t.Errorf("acknowledged reading %d never reached the resumed client", seq)
		}
	}
	t.Logf("resumed after %s: %d events (%d…%d), lost %d, duplicated %d; %d stored but unacknowledged (cut off by the kill); IDs after the restart start at %d",
		lastSeen, d.events, d.first, d.last, d.lost, d.duplicated, unacked, after[0].seq)
	if after[0].seq != lastAcked+uint64(unacked)+1 {
		t.Errorf("first ID after the restart is %d, want %d (the stored ones + 1)", after[0].seq, lastAcked+uint64(unacked)+1)
	}
}

// clusterPublisher posts a batch of readings to one instance every
// interval, recording what was acknowledged and when.
type clusterPublisher struct {
	mu       sync.Mutex
	acked    map[uint64]sent
	ackAt    []time.Time
	batches  int // acknowledged
	failures []string
	changed  chan struct{}

	stop chan struct{}
	done chan struct{}
}

func startClusterPublisher(t *testing.T, in *instance, interval time.Duration, b *readingBatches) *clusterPublisher {
	tr := &http.Transport{}
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	p := &clusterPublisher{acked: map[uint64]sent{}, changed: make(chan struct{}), stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(p.done)
		defer tr.CloseIdleConnections()
		tick := time.NewTicker(interval)
		defer tick.Stop()
		for {
			select {
			case <-p.stop:
				return
			case <-tick.C:
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			ss, err := in.post(ctx, client, b.next(2))
			cancel()
			p.mu.Lock()
			if err != nil {
				p.failures = append(p.failures, fmt.Sprintf("%s: %v", time.Now().Format("15:04:05.000"), err))
			} else {
				for _, s := range ss {
					p.acked[s.seq] = s
				}
				p.ackAt = append(p.ackAt, time.Now())
				p.batches++
				close(p.changed)
				p.changed = make(chan struct{})
			}
			p.mu.Unlock()
		}
	}()
	t.Cleanup(p.halt)
	return p
}

// halt stops publishing and waits for the last POST to end. Idempotent.
func (p *clusterPublisher) halt() {
	select {
	case <-p.stop:
	default:
		close(p.stop)
	}
	<-p.done
}

func (p *clusterPublisher) count() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.batches
}

// waitBatches waits until n batches have been acknowledged in all.
func (p *clusterPublisher) waitBatches(t testing.TB, timeout time.Duration, n int) {
	t.Helper()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for {
		p.mu.Lock()
		got, changed, failures := p.batches, p.changed, len(p.failures)
		p.mu.Unlock()
		if got >= n {
			return
		}
		select {
		case <-changed:
		case <-timer.C:
			t.Fatalf("%d batches acknowledged, not %d, within %v (%d failed POSTs)", got, n, timeout, failures)
		}
	}
}

// TestCluster: three tempstream processes on a 3-node NATS cluster
// embedded in the test, two SSE clients on each, readings posted through
// the first. Midway the second process is killed (-9) and a NATS node shut
// down; the killed process's clients resume on the third with their last
// ID. Every client ends with every acknowledged reading exactly once, in
// order; the failover figures are logged.
//
// The node lost is the worst one, every run: the JetStream meta leader,
// made the stream's leader too, with tempstream3 (which takes over
// tempstream2's clients) connected to it. Losing it takes the stream's
// writes, the API that creates consumers and tempstream3's connection, all
// at once.
func TestCluster(t *testing.T) {
	t.Parallel()
	start := time.Now()
	cl := startNATSCluster(t, 3)
	node := cl.metaLeader()
	if node == nil {
		t.Fatal("no meta leader") // startNATSCluster waited for one
	}
	args := ingestArgs("--nats-url", cl.urls(), "--nats-replicas", "3", "--log-level", "debug")
	ins := make([]*instance, 3)
	ins[0] = startInstance(t, "tempstream1", args...)
	ins[1] = startInstance(t, "tempstream2", args...)
	// Each instance connects to a node of the list at random: start
	// tempstream3 until it is on the node to lose.
	for attempt := 1; ins[2] == nil; attempt++ {
		in := startInstance(t, "tempstream3", args...)
		var conns []natsClient
		testharness.WaitFor(t, 10*time.Second, "3 tempstream connections", func() bool {
			conns = cl.tempstreamClients(t)
			return len(conns) == 3
		})
		switch {
		case conns[2].node == node:
			ins[2] = in
		case attempt == 30:
			t.Fatalf("tempstream3 never connected to %s in 30 starts", node.name)
		default:
			in.ch.Kill(t)
		}
	}
	cl.moveStreamLeader(t, node)
	t.Logf("3 instances serving %v after the start", time.Since(start).Round(time.Millisecond))

	var clients []*esClient
	for i, in := range ins {
		for j := range 2 {
			clients = append(clients, startESClient(t, fmt.Sprintf("client %d of tempstream%d", j+1, i+1), in))
		}
	}
	victims := clients[2:4] // tempstream2's

	batches := newReadingBatches("cl-a", "cl-b", "cl-c")
	pub := startClusterPublisher(t, ins[0], 20*time.Millisecond, batches)
	pub.waitBatches(t, 20*time.Second, 50)
	for _, c := range clients { // every instance's consumer is flowing
		waitSeq(t, c, 20*time.Second, 100)
	}

	// The loss: tempstream2 killed, and the leading node shut down.
	if l, m := cl.streamLeader(), cl.metaLeader(); l != node || m != node {
		t.Fatalf("before the loss: stream leader %v, meta leader %v; want both %s", l, m, node.name)
	}
	var on []string
	for i, c := range cl.tempstreamClients(t) {
		on = append(on, fmt.Sprintf("tempstream%d on %s", i+1, c.node.name))
	}
	if len(on) != 3 || !strings.HasSuffix(on[2], node.name) {
		t.Fatalf("before the loss: %v; want tempstream3 on %s", on, node.name)
	}
	for _, c := range victims {
		c.retarget(ins[2]) // the load balancer's next choice
	}
	lossAt := time.Now()
	ins[1].ch.Kill(t)
	nodeDown := make(chan time.Duration, 1)
	go func() {
		s := time.Now()
		node.shutdown()
		nodeDown <- time.Since(s)
	}()
	leaders := cl.watchLeaders(t, node, lossAt)
	shutdownTook := <-nodeDown
	lt := <-leaders
	t.Logf("killed tempstream2 and shut down nats node %s (the stream and meta leader; %s; shutdown took %v); a stream leader again %v after the loss, a meta leader %v after",
		node.name, strings.Join(on, ", "), shutdownTook.Round(time.Millisecond), lt.stream.Round(time.Millisecond), lt.meta.Round(time.Millisecond))

	// Publishing goes on until 100 more batches are acknowledged: the
	// cluster has recovered and carried on for at least 2s.
	pub.waitBatches(t, 60*time.Second, pub.count()+100)
	pub.halt()
	info := cl.streamInfo(t, 10*time.Second)
	lastSeq := info.State.LastSeq
	newLeader := "none"
	if l := cl.streamLeader(); l != nil {
		newLeader = l.name
	}
	t.Logf("published %d batches of 2 (%d acknowledged readings, %d failed POSTs); the stream holds %d…%d, replicas %v, leader now %s",
		pub.batches, len(pub.acked), len(pub.failures), info.State.FirstSeq, lastSeq, info.Config.Replicas, newLeader)
	for _, f := range pub.failures {
		t.Logf("failed POST at %s", f)
	}
	unacked := 0
	for seq := uint64(1); seq <= lastSeq; seq++ {
		if _, ok := pub.acked[seq]; !ok {
			unacked++
		}
	}

	// Every client reaches the end of the stream.
	for _, c := range clients {
		waitSeq(t, c, 30*time.Second, lastSeq)
	}

	// The figures, then the verdict.
	evicted := 0
	for _, c := range clients {
		evs, at, conns := c.Snapshot()
		d := checkDelivery(t, c.who, evs, 1, pub.acked)
		for seq := range pub.acked {
			if seq > d.last {
				t.Errorf("%s: acknowledged reading %d never arrived", c.who, seq)
			}
		}
		if d.last != lastSeq {
			t.Errorf("%s: last event %d, the stream's last is %d", c.who, d.last, lastSeq)
		}
		before, _ := maxGap(at[:countBefore(at, lossAt)], time.Time{})
		gap, gapEnd := maxGap(at, lossAt)
		line := fmt.Sprintf("%s: %d events (1…%d), lost %d, duplicated %d; longest silence before the loss %v, after it %v (ended %v after the loss)",
			c.who, d.events, d.last, d.lost, d.duplicated, before.Round(time.Millisecond), gap.Round(time.Millisecond), gapEnd.Sub(lossAt).Round(time.Millisecond))
		for _, cn := range conns[1:] {
			if cn.First == 0 || cn.First >= len(at) {
				continue
			}
			prev := conns[0]
			for _, p := range conns {
				if p.First < cn.First {
					prev = p
				}
			}
			line += fmt.Sprintf("; %s ended the stream (%v) %v after the loss, resumed on %s after %s, without data %v",
				c.name(prev), prev.End, prev.EndAt.Sub(lossAt).Round(time.Millisecond), c.name(cn), cn.LastEventID, at[cn.First].Sub(at[cn.First-1]).Round(time.Millisecond))
			if c.name(prev) != "tempstream2" {
				evicted++
			}
		}
		t.Log(line)
	}
	ackGap, _ := maxGap(pub.ackAt, lossAt)
	t.Logf("publisher: longest time between acknowledgements after the loss %v; %d readings stored but not acknowledged", ackGap.Round(time.Millisecond), unacked)
	if evicted > 0 {
		// Not a failure of this test (they resumed without a gap), but
		// subscribers of a surviving instance should stay connected.
		t.Logf("%d streams of surviving instances were ended by the server", evicted)
	}
	for _, in := range []*instance{ins[0], ins[2]} {
		lines, _ := in.ts.logs.Snapshot()
		for _, l := range lines {
			at, _ := time.Parse(time.RFC3339Nano, l.Str("time"))
			switch msg := l.Str("msg"); {
			case at.Before(lossAt):
			case msg == "nats reconnected", msg == "nats disconnected", msg == "jetstream consumer":
				t.Logf("%s at +%v: %s %s%s", in.name, at.Sub(lossAt).Round(time.Millisecond), msg, l.Str("err"), l.Str("url"))
			case msg == "stream closed" && l.Str("reason") != "client gone":
				t.Logf("%s at +%v: stream of %s closed: %s", in.name, at.Sub(lossAt).Round(time.Millisecond), l.Str("remote"), l.Str("reason"))
			}
		}
		if resp, _ := in.ts.get(t, "/readyz"); resp.StatusCode != http.StatusOK {
			t.Errorf("%s: /readyz %s after the failover", in.name, resp.Status)
		}
	}

	for _, c := range clients {
		c.Stop()
	}
	ins[0].ch.Terminate(t, 10*time.Second)
	ins[2].ch.Terminate(t, 10*time.Second)
	t.Logf("done in %v", time.Since(start).Round(time.Millisecond))
}

// countBefore is how many of the times at (ascending) are before t.
func countBefore(at []time.Time, t time.Time) int {
	n, _ := slices.BinarySearchFunc(at, t, func(a, b time.Time) int { return a.Compare(b) })
	return n
}

// TestClusterSimulatorDedup: three instances on one NATS cluster, all
// simulating the same two sensors every 100ms: each tick reaches the
// clients once (JetStream drops the other instances' copies by their
// Nats-Msg-Id), and every client sees the same IDs for the same tick.
func TestClusterSimulatorDedup(t *testing.T) {
	t.Parallel()
	start := time.Now()
	cl := startNATSCluster(t, 3)
	args := []string{"--addr", "127.0.0.1:0", "--log-format", "json", "--nats-url", cl.urls(), "--nats-replicas", "3",
		"--sim-sensors", "2", "--interval", "100ms"}
	ins := make([]*instance, 3)
	cols := make([]*ssetest.Recorder, 3)
	for i := range ins {
		ins[i] = startInstance(t, fmt.Sprintf("tempstream%d", i+1), args...)
	}
	allUp := time.Now() // ticks from here on are simulated by all three
	// Each client asks for every retained event (the whole stream: it is
	// younger than the retention), so its events are consecutive from the
	// first. (Without a resume point it would get the newest reading of
	// each sensor first, then live ones.)
	for i, in := range ins {
		cols[i] = in.subscribe(t, "Last-Event-ID: "+sse.Earliest).Record(t)
	}
	for i, col := range cols {
		col.Wait(t, 20*time.Second, fmt.Sprintf("client of tempstream%d: 20 events of ticks all three simulated", i+1), func(evs []sse.Received) bool {
			n := 0
			for _, ev := range evs {
				if at, err := time.Parse(time.RFC3339Nano, eventReading(t, ev).At); err == nil && at.After(allUp) {
					n++
				}
			}
			return n >= 20
		})
	}

	type tick struct{ sensor, at string }
	idOf := map[tick]string{}     // over all clients
	dataOf := map[string]string{} // ID → data, over all clients
	common := map[string]int{}    // ID → clients that got it
	backwards := 0
	for i, col := range cols {
		who := fmt.Sprintf("client of tempstream%d", i+1)
		evs, _, _ := col.Snapshot()
		d := checkDelivery(t, who, evs, seqOf(t, evs[0].LastEventID), nil)
		seen := map[tick]string{}
		var prevAt time.Time
		for _, ev := range evs {
			r := eventReading(t, ev)
			k := tick{r.Sensor, r.At}
			if id, dup := seen[k]; dup {
				t.Errorf("%s: %s at %s twice: events %s and %s", who, r.Sensor, r.At, id, ev.LastEventID)
			}
			seen[k] = ev.LastEventID
			if id, ok := idOf[k]; ok && id != ev.LastEventID {
				t.Errorf("%s: %s at %s is event %s, another client had it as %s", who, r.Sensor, r.At, ev.LastEventID, id)
			}
			idOf[k] = ev.LastEventID
			if data, ok := dataOf[ev.LastEventID]; ok && data != string(ev.Data) {
				t.Errorf("%s: event %s is %s, another client had %s", who, ev.LastEventID, ev.Data, data)
			}
			dataOf[ev.LastEventID] = string(ev.Data)
			common[ev.LastEventID]++
			at, err := time.Parse(time.RFC3339Nano, r.At)
			if err != nil {
				t.Fatalf("%s: at %q: %v", who, r.At, err)
			}
			if at.UnixMilli()%100 != 0 {
				t.Errorf("%s: tick at %s is not on the 100ms boundary", who, r.At)
			}
			if at.Before(prevAt) {
				backwards++
			}
			prevAt = at
		}
		t.Logf("%s: events %d…%d (%d), lost %d, duplicated %d", who, d.first, d.last, d.events, d.lost, d.duplicated)
	}
	shared := 0
	for _, n := range common {
		if n == len(cols) {
			shared++
		}
	}
	if shared < 10 {
		t.Errorf("only %d events reached all three clients, want at least 10 to compare", shared)
	}
	for _, in := range ins {
		for _, l := range in.ts.logs.Raw() {
			if strings.Contains(l, `"level":"ERROR"`) {
				t.Logf("%s: %s", in.name, l)
			}
		}
	}
	t.Logf("%d events reached all three clients with the same IDs; %d distinct (sensor, tick) pairs; tick time went backwards %d times in a client's stream (instances racing on a tick boundary); done in %v",
		shared, len(idOf), backwards, time.Since(start).Round(time.Millisecond))
}

// TestClusterResumeOnLaggingInstance: a client that got event N from one
// instance and resumes on another whose consumer has not appended N yet
// (it lags, by milliseconds normally, by seconds after a NATS failover)
// must get N+1 next, not a reset and a replay of the whole ring (every
// event again). The lag is made certain by stopping the second process
// (SIGSTOP) while N is stored, and letting it go on (SIGCONT) with the
// resume request already in its socket and 1000 events to catch up on.
//
// (The ring once answered an ID above its head with reset "unknown"; a
// stream fed by JetStream now awaits it.)
func TestClusterResumeOnLaggingInstance(t *testing.T) {
	t.Parallel()
	cl := startNATSCluster(t, 3)
	args := ingestArgs("--nats-url", cl.urls(), "--nats-replicas", "3")
	a := startInstance(t, "tempstream1", args...)
	b := startInstance(t, "tempstream2", args...)
	batches := newReadingBatches("lag-a")

	// b follows the stream.
	warm := b.subscribe(t)
	first := a.mustPost(t, batches.next(1))[0].seq
	if ev := warm.MustNext(t, 5*time.Second); seqOf(t, ev.LastEventID) != first {
		t.Fatalf("tempstream2 got %s first, want %d", ev.LastEventID, first)
	}
	warm.Close()

	if err := b.ch.Pause(); err != nil {
		t.Fatal(err)
	}
	// 1000 readings stored meanwhile: tempstream2 has them all to fetch
	// and append before the last, N, which a client read from tempstream1.
	stored := a.mustPost(t, batches.next(1000))
	n := stored[len(stored)-1]
	req := ssetest.Send(t, b.ts.url+"/events", ssetest.Options{LastEventID: n.id, Timeout: 5 * time.Second}) // in its socket before it can read it
	if err := b.ch.Resume(); err != nil {
		t.Fatal(err)
	}
	next := a.mustPost(t, batches.next(1))[0].seq
	c := checkStream(t, req.Stream(t))
	ev := c.MustNext(t, 5*time.Second)
	if ev.Type != "temperature" || seqOf(t, ev.LastEventID) != next {
		t.Fatalf("resumed on the lagging instance after %s: got %s %s %s, want event %d", n.id, ev.Type, ev.LastEventID, ev.Data, next)
	}
}

// TestClusterCatchUpKeepsSubscribers: an instance whose consumer fell
// behind (here: its process stopped while 2000 readings were stored; in
// production: NATS unreachable, or a consumer being recreated) catches up
// with its subscribers connected: they get every event, and the stream
// stays open.
//
// (Catch-up events once counted against the queue limit, 256, and evicted
// every subscriber; events appended while catching up no longer do.)
func TestClusterCatchUpKeepsSubscribers(t *testing.T) {
	t.Parallel()
	cl := startNATSCluster(t, 3)
	args := ingestArgs("--nats-url", cl.urls(), "--nats-replicas", "3")
	a := startInstance(t, "tempstream1", args...)
	b := startInstance(t, "tempstream2", args...)
	batches := newReadingBatches("catch-a", "catch-b")

	var cols []*ssetest.Recorder
	for range 4 {
		cols = append(cols, b.subscribe(t).Record(t))
	}
	first := a.mustPost(t, batches.next(1))[0].seq
	for _, col := range cols {
		col.Wait(t, 5*time.Second, "the first event", func(evs []sse.Received) bool { return len(evs) == 1 })
	}

	if err := b.ch.Pause(); err != nil {
		t.Fatal(err)
	}
	var last uint64
	for range 2 { // two of the largest batches
		stored := a.mustPost(t, batches.next(1000))
		last = stored[len(stored)-1].seq
	}
	if err := b.ch.Resume(); err != nil {
		t.Fatal(err)
	}
	for i, col := range cols {
		who := fmt.Sprintf("subscriber %d of tempstream2", i+1)
		evs := col.Wait(t, 10*time.Second, who+fmt.Sprintf(" catching up to %d", last), func(evs []sse.Received) bool {
			return seqOf(t, evs[len(evs)-1].LastEventID) >= last
		})
		if d := checkDelivery(t, who, evs, first, nil); d.lost+d.duplicated > 0 {
			t.Fatalf("%s: lost %d, duplicated %d", who, d.lost, d.duplicated)
		}
	}
}
