package main

// Helpers of the JetStream tests (nats_test.go): a NATS cluster embedded in
// the test process, tempstream instances run as child processes of the
// built binary, posting readings and checking what a client received
// against what was acknowledged. Event IDs are "<epoch>-<JetStream sequence
// number>", the epoch being the JetStream stream's creation time: the same
// on every instance.

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/tempstream/tempstream/internal/testharness"
	"github.com/tempstream/tempstream/pkg/sse"
	"github.com/tempstream/tempstream/pkg/sse/ssetest"
)

// natsStream is the JetStream stream tempstream keeps readings in.
const natsStream = "TEMPSTREAM"

// ---------------------------------------------------------------------------
// A NATS cluster in the test process

// natsNode is one server of a natsCluster.
type natsNode struct {
	name string
	srv  *server.Server
	url  string // its client URL
	once sync.Once
}

// shutdown stops the server and waits until it has stopped (every goroutine
// of it ended). It is idempotent.
func (n *natsNode) shutdown() {
	n.once.Do(func() {
		n.srv.Shutdown()
		n.srv.WaitForShutdown()
	})
}

// natsCluster is a JetStream cluster of servers routed to each other on
// loopback, with a client connection of the test's to all of them.
type natsCluster struct {
	nodes []*natsNode
	nc    *nats.Conn
	js    jetstream.JetStream
}

// startNATSCluster starts n JetStream servers n1…nn clustered on loopback
// and returns once JetStream has a meta leader that every server follows.
// Every server is shut down, and the test's connection closed, when the
// test ends.
func startNATSCluster(t *testing.T, n int) *natsCluster {
	t.Helper()
	start := time.Now()
	cl := &natsCluster{}
	t.Cleanup(func() {
		for _, nd := range cl.nodes {
			nd.shutdown()
		}
	})
	// Ports picked free can be taken by someone else before a server binds
	// them: then the servers start again on others.
	for attempt := 1; ; attempt++ {
		err := cl.start(t, n)
		if err == nil {
			break
		}
		for _, nd := range cl.nodes {
			nd.shutdown()
		}
		cl.nodes = nil
		if attempt == 3 {
			t.Fatal(err)
		}
		t.Logf("nats cluster, attempt %d: %v; again on other ports", attempt, err)
	}

	nc, err := nats.Connect(cl.urls(), nats.Name("tempstream-test"), nats.MaxReconnects(-1), nats.ReconnectWait(100*time.Millisecond))
	if err != nil {
		t.Fatalf("connect to the nats cluster: %v", err)
	}
	t.Cleanup(nc.Close) // runs before the servers shut down
	cl.nc = nc
	if cl.js, err = jetstream.New(nc); err != nil {
		t.Fatal(err)
	}

	// JetStream is ready once the servers have elected a meta leader that
	// all of them follow, and it answers the account's info.
	testharness.WaitFor(t, 30*time.Second, "jetstream meta leader elected and followed by every node", func() bool {
		leaders := 0
		for _, nd := range cl.nodes {
			if !nd.srv.JetStreamIsCurrent() {
				return false
			}
			if nd.srv.JetStreamIsLeader() {
				leaders++
				if len(nd.srv.JetStreamClusterPeers()) != n { // known to the leader only
					return false
				}
			}
		}
		if leaders != 1 {
			return false
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_, err := cl.js.AccountInfo(ctx)
		return err == nil
	})
	t.Logf("nats cluster of %d nodes ready in %v", n, time.Since(start).Round(time.Millisecond))
	return cl
}

// start starts n clustered servers on ports picked free (the cluster
// listeners must be known before the servers start, so that each can be
// given routes to the others) and waits until they listen.
func (cl *natsCluster) start(t *testing.T, n int) error {
	ports := testharness.FreePorts(t, 2*n) // n client ports, then n cluster ports
	for i := range n {
		var routes []string
		for j := range n {
			if j != i {
				routes = append(routes, fmt.Sprintf("nats-route://127.0.0.1:%d", ports[n+j]))
			}
		}
		opts := &server.Options{
			ServerName: fmt.Sprintf("n%d", i+1),
			Host:       "127.0.0.1",
			Port:       ports[i],
			JetStream:  true,
			StoreDir:   t.TempDir(),
			NoSigs:     true,
			NoLog:      true,
			Cluster:    server.ClusterOpts{Name: "tempstream-test", Host: "127.0.0.1", Port: ports[n+i]},
			Routes:     server.RoutesFromStr(strings.Join(routes, ",")),
		}
		ns, err := server.NewServer(opts)
		if err != nil {
			return fmt.Errorf("nats node %s: %w", opts.ServerName, err)
		}
		ns.Start()
		cl.nodes = append(cl.nodes, &natsNode{name: opts.ServerName, srv: ns})
	}
	for _, nd := range cl.nodes {
		if !nd.srv.ReadyForConnections(5 * time.Second) {
			return fmt.Errorf("nats node %s: not listening within 5s", nd.name)
		}
		nd.url = nd.srv.ClientURL()
	}
	return nil
}

// urls is the --nats-url of the cluster: every node's client URL.
func (cl *natsCluster) urls() string {
	urls := make([]string, len(cl.nodes))
	for i, nd := range cl.nodes {
		urls[i] = nd.url
	}
	return strings.Join(urls, ",")
}

// streamLeader returns the node that leads tempstream's stream (nil if
// none does right now).
func (cl *natsCluster) streamLeader() *natsNode {
	for _, nd := range cl.nodes {
		if nd.srv.Running() && nd.srv.JetStreamIsStreamLeader(server.DEFAULT_GLOBAL_ACCOUNT, natsStream) {
			return nd
		}
	}
	return nil
}

// metaLeader returns the node that leads JetStream's meta group (nil if
// none does right now).
func (cl *natsCluster) metaLeader() *natsNode {
	for _, nd := range cl.nodes {
		if nd.srv.Running() && nd.srv.JetStreamIsLeader() {
			return nd
		}
	}
	return nil
}

// moveStreamLeader makes to the leader of tempstream's stream (a stepdown
// with to as the preferred placement) and waits until it is.
func (cl *natsCluster) moveStreamLeader(t testing.TB, to *natsNode) {
	t.Helper()
	if cl.streamLeader() == to {
		return
	}
	req := fmt.Sprintf(`{"placement":{"preferred":%q}}`, to.name)
	msg, err := cl.nc.Request("$JS.API.STREAM.LEADER.STEPDOWN."+natsStream, []byte(req), 5*time.Second)
	if err != nil {
		t.Fatalf("stream leader stepdown: %v", err)
	}
	var resp struct {
		Success bool `json:"success"`
		Error   *struct {
			Description string `json:"description"`
		} `json:"error"`
	}
	if err := json.Unmarshal(msg.Data, &resp); err != nil || !resp.Success {
		t.Fatalf("stream leader stepdown to %s: %s (%v)", to.name, msg.Data, err)
	}
	testharness.WaitFor(t, 10*time.Second, "stream leader moved to "+to.name, func() bool { return cl.streamLeader() == to })
}

// natsClient is a client connection to a node of the cluster.
type natsClient struct {
	node  *natsNode
	cid   uint64
	start time.Time
}

// tempstreamClients lists the connections named "tempstream" (the
// instances') open on the running nodes, oldest first: instances started
// one after the other are in the order they started.
func (cl *natsCluster) tempstreamClients(t testing.TB) []natsClient {
	t.Helper()
	var out []natsClient
	for _, nd := range cl.nodes {
		if !nd.srv.Running() {
			continue
		}
		cz, err := nd.srv.Connz(&server.ConnzOptions{})
		if err != nil {
			t.Fatalf("connz of %s: %v", nd.name, err)
		}
		for _, c := range cz.Conns {
			if c.Name == "tempstream" {
				out = append(out, natsClient{node: nd, cid: c.Cid, start: c.Start})
			}
		}
	}
	slices.SortFunc(out, func(a, b natsClient) int { return a.start.Compare(b.start) })
	return out
}

// leaderTimes is how long after a node's loss the cluster had a stream
// leader and a JetStream meta leader again (-1: not within the watch).
type leaderTimes struct{ stream, meta time.Duration }

// watchLeaders polls the nodes but down, every 5ms from now for up to 30s
// (or until the test ends), and reports when each kind of leader was first
// seen, counted from from.
func (cl *natsCluster) watchLeaders(t testing.TB, down *natsNode, from time.Time) <-chan leaderTimes {
	out := make(chan leaderTimes, 1)
	stop, done := make(chan struct{}), make(chan struct{})
	t.Cleanup(func() { close(stop); <-done })
	go func() {
		defer close(done)
		lt := leaderTimes{-1, -1}
		poll := time.NewTicker(5 * time.Millisecond) // the servers announce neither
		defer poll.Stop()
		deadline := time.After(30 * time.Second)
		for lt.stream < 0 || lt.meta < 0 {
			for _, nd := range cl.nodes {
				if nd == down {
					continue
				}
				if lt.stream < 0 && nd.srv.JetStreamIsStreamLeader(server.DEFAULT_GLOBAL_ACCOUNT, natsStream) {
					lt.stream = time.Since(from)
				}
				if lt.meta < 0 && nd.srv.JetStreamIsLeader() {
					lt.meta = time.Since(from)
				}
			}
			select {
			case <-poll.C:
			case <-deadline:
				out <- lt
				return
			case <-stop:
				return
			}
		}
		out <- lt
	}()
	return out
}

// streamInfo asks JetStream for tempstream's stream, retrying for up to
// timeout (a leader may be being elected).
func (cl *natsCluster) streamInfo(t testing.TB, timeout time.Duration) *jetstream.StreamInfo {
	t.Helper()
	var (
		info *jetstream.StreamInfo
		err  error
	)
	testharness.WaitFor(t, timeout, "jetstream stream info", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		var st jetstream.Stream
		if st, err = cl.js.Stream(ctx, natsStream); err == nil {
			info, err = st.Info(ctx)
		}
		return err == nil
	})
	return info
}

// ---------------------------------------------------------------------------
// tempstream instances: the built binary as a child process

// instance is a running tempstream binary, with a testServer to talk to it
// (its logs are the child's stderr).
type instance struct {
	name string
	ch   *testharness.Child
	ts   *testServer
}

// startInstance starts the binary with args and waits (up to a minute:
// opening a JetStream stream waits for a leader) until it listens. It dumps
// the instance's logs if the test fails, and kills it when the test ends.
func startInstance(t *testing.T, name string, args ...string) *instance {
	t.Helper()
	ch := testharness.StartChild(t, name, bin.Path(t), args, time.Minute, testharness.ProcOptions{})
	return &instance{name: name, ch: ch,
		ts: &testServer{addr: ch.Addr, url: "http://" + ch.Addr, logs: ch.Logs, client: testharness.Client(t)}}
}

// subscribe opens /events on the instance (with extra header lines) and
// returns the stream once the server has subscribed it: it gets every event
// stored from then on.
func (in *instance) subscribe(t testing.TB, headers ...string) *ssetest.Stream {
	t.Helper()
	c := in.ts.openStream(t, "/events", headers...)
	in.ts.waitSubscribed(t, c)
	return c
}

// ---------------------------------------------------------------------------
// Posting readings and checking what clients received

// sent is one acknowledged reading: what was posted and the ID it got.
type sent struct {
	id      string // as acknowledged: "<epoch>-<seq>"
	seq     uint64
	sensor  string
	celsius float64
}

// post sends rs as one batch and returns the acknowledged readings, or an
// error (any answer but a 202 with one ID per reading).
func (in *instance) post(ctx context.Context, client *http.Client, rs []ingestReading) ([]sent, error) {
	a, err := in.ts.tryIngest(ctx, ingestPost{auth: ingestAuth, contentType: "application/json", body: []byte(batchJSON(rs...)), client: client})
	if err != nil {
		return nil, err
	}
	if a.status != http.StatusAccepted {
		return nil, fmt.Errorf("answer %s", a)
	}
	var acc acceptedBody
	if err := json.Unmarshal(a.body, &acc); err != nil || len(acc.IDs) != len(rs) {
		return nil, fmt.Errorf("202 body %s: want %d IDs (%v)", a.body, len(rs), err)
	}
	out := make([]sent, len(rs))
	for i, r := range rs {
		_, seq, ok := splitID(acc.IDs[i])
		if !ok {
			return nil, fmt.Errorf("202 with ID %q: not <epoch>-<JetStream sequence number>", acc.IDs[i])
		}
		out[i] = sent{id: acc.IDs[i], seq: seq, sensor: r.Sensor, celsius: r.Celsius}
	}
	return out, nil
}

// mustPost posts rs and fails the test unless they are acknowledged with
// consecutive IDs.
func (in *instance) mustPost(t testing.TB, rs []ingestReading) []sent {
	t.Helper()
	ss, err := in.post(context.Background(), nil, rs)
	if err != nil {
		t.Fatalf("POST to %s: %v", in.name, err)
	}
	for i := range ss {
		if ss[i].seq != ss[0].seq+uint64(i) {
			t.Fatalf("POST to %s: IDs %v are not consecutive", in.name, ss)
		}
	}
	return ss
}

// delivery is how a client's events compare with the stream: how many it
// got, how many it should have got but did not (lost), and how many it got
// more than once or out of order (duplicated).
type delivery struct {
	events, lost, duplicated int
	first, last              uint64
}

// checkDelivery compares evs, one client's temperature events in the order
// received, with the stream from sequence number first on: it counts gaps
// and repeats, and fails the test if an acknowledged reading arrived with
// other content than was posted or if an event is not a reading.
func checkDelivery(t testing.TB, who string, evs []sse.Received, first uint64, acked map[uint64]sent) delivery {
	t.Helper()
	d := delivery{events: len(evs), first: first}
	next := first
	for _, ev := range evs {
		r := eventReading(t, ev)
		seq := seqOf(t, ev.LastEventID)
		switch {
		case seq < next:
			d.duplicated++
			t.Errorf("%s: event %d after %d: a duplicate (or out of order)", who, seq, next-1)
		case seq > next:
			d.lost += int(seq - next)
			t.Errorf("%s: events %d…%d missing before %d", who, next, seq-1, seq)
		}
		next = max(next, seq+1)
		if s, ok := acked[seq]; ok && (s.sensor != r.Sensor || s.celsius != r.Celsius) {
			t.Errorf("%s: event %d is %s %.2f, but %s %.2f was acknowledged with that ID", who, seq, r.Sensor, r.Celsius, s.sensor, s.celsius)
		}
	}
	d.last = next - 1
	return d
}

// maxGap is the longest time between two consecutive arrivals in at that
// ends after from (the gap spanning from counts), and when it ended.
func maxGap(at []time.Time, from time.Time) (time.Duration, time.Time) {
	var gap time.Duration
	var end time.Time
	for i := 1; i < len(at); i++ {
		if at[i].Before(from) {
			continue
		}
		if g := at[i].Sub(at[i-1]); g > gap {
			gap, end = g, at[i]
		}
	}
	return gap, end
}

// ---------------------------------------------------------------------------
// A client that reconnects like EventSource

// esClient reads an event stream like a browser's EventSource
// (ssetest.Follower): whenever the stream ends it reconnects at once, with
// Last-Event-ID, to whichever instance is its target then (a load
// balancer's choice, made by the test).
type esClient struct {
	*ssetest.Follower
	who   string
	names map[string]string // URL → instance name; under the test's goroutine only
}

// startESClient opens /events on in, waits until the server has subscribed
// it, and follows it from then on; it is stopped when the test ends.
func startESClient(t *testing.T, who string, in *instance) *esClient {
	t.Helper()
	s := in.subscribe(t)
	return &esClient{Follower: ssetest.Follow(t, s, ssetest.FollowOptions{}), who: who, names: map[string]string{s.URL(): in.name}}
}

// retarget sends the client's next reconnection to in.
func (c *esClient) retarget(in *instance) {
	u := in.ts.url + "/events"
	c.names[u] = in.name
	c.Retarget(u)
}

// Wait is the Follower's, its messages naming the client.
func (c *esClient) Wait(t testing.TB, timeout time.Duration, what string, cond func([]sse.Received) bool) []sse.Received {
	t.Helper()
	return c.Follower.Wait(t, timeout, c.who+": "+what, cond)
}

// name is the instance a connection was to.
func (c *esClient) name(cn ssetest.Conn) string { return c.names[cn.URL] }
