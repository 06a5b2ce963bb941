package natsjs

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/tempstream/tempstream/pkg/sse"
)

// ErrNotConnected is Ready's answer while the NATS connection is down.
var ErrNotConnected = errors.New("natsjs: not connected to NATS")

// ErrNotFollowing is Ready's answer once the consumer that feeds the ring
// has been lost for longer than Options.StallGrace and could not be
// re-created (JetStream unavailable, the stream without a leader): the
// instance is connected but its subscribers get nothing new.
var ErrNotFollowing = errors.New("natsjs: not following the JetStream stream")

// ErrStreamReplaced is Ready's answer once the JetStream stream was deleted
// and created anew under the running store: the new stream numbers from 1
// under a new epoch, which an instance cannot follow without a restart (its
// ring and its subscribers hold the old stream's IDs).
var ErrStreamReplaced = errors.New("natsjs: the JetStream stream was created anew; restart this instance")

// Options configure a Store. Zero values get the defaults named.
type Options struct {
	// URL lists external NATS servers ("nats://a:4222,nats://b:4222").
	// Empty starts an embedded server storing under DataDir.
	URL string
	// DataDir is the embedded server's JetStream directory ("./data").
	DataDir string
	// Listen is the embedded server's client address; empty opens no port.
	Listen string
	// StreamName is the JetStream stream ("TEMPSTREAM").
	StreamName string
	// Subject prefixes message subjects: <Subject>.<key>
	// ("tempstream.temperature").
	Subject string
	// EventType is the SSE type of every event appended ("temperature").
	EventType string
	// Replicas of the JetStream stream (1).
	Replicas int
	// MaxAge is how long JetStream keeps readings (0: no age limit). With
	// an age limit every reading is kept that long, whatever the count (the
	// history's raw readings); without, each sensor's newest MaxPerSensor.
	MaxAge time.Duration
	// MaxPerSensor bounds each sensor's messages when MaxAge is 0 (0: the
	// target's retention, which is per sensor too).
	MaxPerSensor int64
	// Duplicates is the de-duplication window for Nats-Msg-Id (2m, at most MaxAge).
	Duplicates time.Duration
	// StallGrace is how long the consumer may stay lost before Ready says
	// so (5s): long enough for a cluster to elect a new leader (about 1.3 s
	// in TestCluster), short enough for a load balancer to move clients.
	StallGrace time.Duration
	// Logger gets connection events; nil discards.
	Logger *slog.Logger
	// Registerer gets the store's metrics; nil registers nothing.
	Registerer prometheus.Registerer
}

// Store keeps a stream's events in JetStream and feeds them to the
// instance's sse.Stream. Publish, Ready and Close are safe for concurrent
// use. After Close, Publish fails and the target stream gets nothing more.
type Store struct {
	o      Options
	target *sse.Stream
	ns     *server.Server // nil with an external URL
	nc     *nats.Conn
	js     jetstream.JetStream
	m      metrics

	ccMu          sync.Mutex
	cc            jetstream.ConsumeContext // the current consumer
	resubscribe   chan struct{}
	stopSupervise context.CancelFunc
	superviseDone chan struct{}

	epoch     string        // of the JetStream stream: its creation time
	lostSince atomic.Int64  // when the consumer was found lost (UnixNano); 0 while it runs
	replaced  atomic.Bool   // the stream now has another epoch than at Open
	fillTo    uint64        // the stream's last sequence number at Open
	filled    chan struct{} // closed once the ring holds up to fillTo
	fillClose sync.Once
}

// Open connects (starting the embedded server if no URL is given), creates
// or updates the JetStream stream (retrying while a fresh cluster elects a
// leader, until ctx ends), fills the target's ring with the stream's newest
// messages and then follows it. target must be empty and FedByLog (another
// instance may hand out IDs this one has not consumed yet). Its IDs become
// "<epoch>-<JetStream sequence number>", where the epoch is the JetStream
// stream's creation time (NewEpoch): the same on every instance and across
// restarts, and new when the stream is created anew (a wiped data dir), so
// a client holding an ID of the old stream gets a reset and every reading
// of the new one, instead of waiting for the new numbering to reach its ID.
func Open(ctx context.Context, target *sse.Stream, o Options) (*Store, error) {
	o.DataDir = cmp.Or(o.DataDir, "./data")
	o.StreamName = cmp.Or(o.StreamName, "TEMPSTREAM")
	o.Subject = cmp.Or(o.Subject, "tempstream.temperature")
	o.EventType = cmp.Or(o.EventType, "temperature")
	o.Replicas = max(o.Replicas, 1)
	o.MaxPerSensor = cmp.Or(o.MaxPerSensor, int64(target.Retention()))
	o.Duplicates = cmp.Or(o.Duplicates, 2*time.Minute)
	o.StallGrace = cmp.Or(o.StallGrace, 5*time.Second)
	if o.MaxAge > 0 {
		o.Duplicates = min(o.Duplicates, o.MaxAge)
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Store{o: o, target: target, filled: make(chan struct{}), resubscribe: make(chan struct{}, 1)}
	s.m = newMetrics(o.Registerer, s)

	url := o.URL
	var inProcess nats.Option = func(*nats.Options) error { return nil }
	if url == "" {
		ns, err := startEmbedded(o.DataDir, o.Listen)
		if err != nil {
			return nil, err
		}
		s.ns = ns
		url = ns.ClientURL()
		inProcess = nats.InProcessServer(ns)
	}
	nc, err := nats.Connect(url, inProcess,
		nats.Name("tempstream"),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(250*time.Millisecond),
		nats.RetryOnFailedConnect(false),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil { // nil: we closed it
				o.Logger.Warn("nats disconnected", "err", err)
			}
		}),
		nats.ReconnectHandler(func(c *nats.Conn) {
			s.m.reconnects.Inc()
			s.resubscribeSoon()
			o.Logger.Info("nats reconnected", "url", c.ConnectedUrlRedacted())
		}),
	)
	if err != nil {
		s.shutdownServer()
		return nil, fmt.Errorf("connect to nats %s: %w", url, err)
	}
	s.nc = nc
	if s.js, err = jetstream.New(nc); err == nil {
		err = s.follow(ctx)
	}
	if err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// perSubjectLimit is the stream's MaxMsgsPerSubject: none (-1) when readings
// are kept by age, else MaxPerSensor.
func (s *Store) perSubjectLimit() int64 {
	if s.o.MaxAge > 0 {
		return -1
	}
	return s.o.MaxPerSensor
}

// follow creates the stream and starts the one consumer of this instance.
func (s *Store) follow(ctx context.Context) error {
	cfg := jetstream.StreamConfig{
		Name:               s.o.StreamName,
		Subjects:           []string{s.o.Subject + ".>"},
		Storage:            jetstream.FileStorage,
		Replicas:           s.o.Replicas,
		MaxMsgs:            -1,
		MaxMsgsPerSubject:  s.perSubjectLimit(),
		MaxAge:             s.o.MaxAge,
		Duplicates:         s.o.Duplicates,
		Discard:            jetstream.DiscardOld,
		AllowAtomicPublish: true,
	}
	var (
		st  jetstream.Stream
		err error
	)
	for { // a fresh cluster answers "no leader" until it has elected one
		attempt, cancel := context.WithTimeout(ctx, 5*time.Second)
		st, err = s.js.CreateOrUpdateStream(attempt, cfg)
		cancel()
		if err == nil {
			break
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("create jetstream stream %s: %w", s.o.StreamName, err)
		case <-time.After(250 * time.Millisecond):
		}
	}
	info, err := st.Info(ctx)
	if err != nil {
		return fmt.Errorf("jetstream stream %s: %w", s.o.StreamName, err)
	}
	if !info.Created.IsZero() {
		s.epoch = sse.NewEpoch(info.Created)
	}
	if err := s.target.SetEpoch(s.epoch); err != nil {
		return fmt.Errorf("jetstream stream %s: %w", s.o.StreamName, err)
	}
	cc := jetstream.OrderedConsumerConfig{FilterSubjects: []string{s.o.Subject + ".>"}}
	s.fillTo = info.State.LastSeq
	if s.fillTo == 0 || info.State.Msgs == 0 {
		s.fillClose.Do(func() { close(s.filled) })
	}
	if last := info.State.LastSeq; last > 0 {
		// Fill the ring with what it can hold of the newest messages:
		// the retention of each sensor the stream has (a sensor slower
		// than the others gets fewer of its own).
		cc.DeliverPolicy = jetstream.DeliverByStartSequencePolicy
		n := max(info.State.NumSubjects, 1) * uint64(s.target.Retention())
		cc.OptStartSeq = max(info.State.FirstSeq, last-min(last, n)+1)
	}
	if err := s.consume(ctx, cc); err != nil {
		return err
	}
	s.superviseDone = make(chan struct{})
	superviseCtx, stop := context.WithCancel(context.Background())
	s.stopSupervise = stop
	go s.supervise(superviseCtx)
	// Serve nothing before the ring holds what JetStream had: a client
	// resuming right after a restart must find its ID.
	select {
	case <-s.filled:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("jetstream: filling the ring up to %d: %w", s.fillTo, ctx.Err())
	}
}

// consume starts an ordered consumer with cfg and makes it the current one,
// stopping the one before.
func (s *Store) consume(ctx context.Context, cfg jetstream.OrderedConsumerConfig) error {
	cons, err := s.js.OrderedConsumer(ctx, s.o.StreamName, cfg)
	if err != nil {
		return fmt.Errorf("jetstream consumer: %w", err)
	}
	cc, err := cons.Consume(s.append,
		jetstream.PullExpiry(2*time.Second), jetstream.PullHeartbeat(500*time.Millisecond),
		jetstream.ConsumeErrHandler(func(_ jetstream.ConsumeContext, err error) {
			s.o.Logger.Debug("jetstream consumer", "err", err)
			// Missed heartbeats, or the consumer (or its stream) deleted
			// under it: re-create it ourselves, and count the time lost.
			if errors.Is(err, jetstream.ErrNoHeartbeat) || errors.Is(err, jetstream.ErrConsumerDeleted) ||
				errors.Is(err, jetstream.ErrConsumerNotFound) || errors.Is(err, jetstream.ErrStreamNotFound) {
				s.resubscribeSoon()
			}
		}))
	if err != nil {
		return fmt.Errorf("jetstream consume: %w", err)
	}
	s.ccMu.Lock()
	old := s.cc
	s.cc = cc
	s.ccMu.Unlock()
	if old != nil {
		old.Stop()
	}
	return nil
}

// resubscribeSoon asks the supervisor for a fresh consumer.
func (s *Store) resubscribeSoon() {
	s.lostSince.CompareAndSwap(0, time.Now().UnixNano())
	select {
	case s.resubscribe <- struct{}{}:
	default:
	}
}

// supervise replaces the consumer after a reconnect or a missed heartbeat.
// nats.go's ordered consumer recreates itself too, but with a fixed 10 s
// timeout per attempt: when its request is lost while a cluster elects a new
// leader, the instance gets nothing for 11 s. Here each attempt has 1 s and
// they repeat every 250 ms, from the event after the newest appended, so
// nothing is missed (and Append ignores anything delivered twice).
func (s *Store) supervise(ctx context.Context) {
	defer close(s.superviseDone)
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.resubscribe:
		}
		for ctx.Err() == nil && !s.replaced.Load() {
			attempt, cancel := context.WithTimeout(ctx, time.Second)
			err := s.checkEpoch(attempt)
			if err == nil && !s.replaced.Load() { // never follow a stream of another epoch
				err = s.consume(attempt, jetstream.OrderedConsumerConfig{
					FilterSubjects: []string{s.o.Subject + ".>"},
					DeliverPolicy:  jetstream.DeliverByStartSequencePolicy,
					OptStartSeq:    s.target.Head() + 1,
				})
			}
			cancel()
			if err == nil && !s.replaced.Load() {
				s.m.resubscribes.Inc()
				s.lostSince.Store(0)
				break
			}
			s.o.Logger.Debug("jetstream resubscribe", "err", err)
			select {
			case <-ctx.Done():
			case <-time.After(250 * time.Millisecond):
			}
		}
	}
}

// checkEpoch marks the store replaced if its stream was created anew since
// Open (a new creation time is a new epoch). It fails if the stream cannot
// be looked up (deleted, no leader).
func (s *Store) checkEpoch(ctx context.Context) error {
	st, err := s.js.Stream(ctx, s.o.StreamName)
	if err != nil {
		return fmt.Errorf("jetstream stream %s: %w", s.o.StreamName, err)
	}
	if info := st.CachedInfo(); !info.Created.IsZero() && sse.NewEpoch(info.Created) != s.epoch {
		if !s.replaced.Swap(true) {
			s.o.Logger.Error("the JetStream stream was deleted and created anew; restart this instance to serve it",
				"stream", s.o.StreamName, "epoch", s.epoch, "new_epoch", sse.NewEpoch(info.Created))
		}
	}
	return nil
}

// append hands one consumed message to the target stream.
func (s *Store) append(msg jetstream.Msg) {
	meta, err := msg.Metadata()
	if err != nil {
		s.o.Logger.Error("jetstream message without metadata", "err", err)
		return
	}
	s.m.lag.Set(float64(meta.NumPending))
	key := keyOf(msg.Subject(), s.o.Subject)
	m := sse.Message{Type: s.o.EventType, Key: key, Data: msg.Data()}
	if _, err := s.target.Append(meta.Sequence.Stream, m, meta.NumPending > 0); err != nil && !errors.Is(err, sse.ErrClosed) {
		s.o.Logger.Error("append jetstream message", "seq", meta.Sequence.Stream, "err", err)
	}
	if meta.Sequence.Stream >= s.fillTo {
		s.fillClose.Do(func() { close(s.filled) })
	}
}

// noKey stands in the subject for the empty key (sensor IDs never start
// with "_").
const noKey = "_"

func subjectOf(prefix, key string) string {
	if key == "" {
		key = noKey
	}
	return prefix + "." + key
}

func keyOf(subject, prefix string) string {
	key := strings.TrimPrefix(subject, prefix+".")
	if key == noKey {
		return ""
	}
	return key
}

// Ready reports whether the store can take and deliver readings now.
func (s *Store) Ready() error {
	if !s.nc.IsConnected() {
		return ErrNotConnected
	}
	if s.replaced.Load() {
		return ErrStreamReplaced
	}
	if since := s.lostSince.Load(); since != 0 {
		if lost := time.Since(time.Unix(0, since)); lost > s.o.StallGrace {
			return fmt.Errorf("%w: its consumer was lost %v ago and could not be re-created yet", ErrNotFollowing, lost.Round(time.Second))
		}
	}
	return nil
}

// Close stops following the stream and closes the connection (and the
// embedded server). It is idempotent.
func (s *Store) Close() {
	if s.stopSupervise != nil {
		s.stopSupervise()
		<-s.superviseDone
	}
	s.ccMu.Lock()
	cc := s.cc
	s.ccMu.Unlock()
	if cc != nil {
		cc.Stop()
		<-cc.Closed()
	}
	if s.nc != nil {
		s.nc.Close()
	}
	s.shutdownServer()
}

func (s *Store) shutdownServer() {
	if s.ns != nil {
		s.ns.Shutdown()
		s.ns.WaitForShutdown()
	}
}
