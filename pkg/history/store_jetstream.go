package history

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/tempstream/tempstream/pkg/reading"
)

// JetStreamStore keeps the summaries in a JetStream stream of their own, so
// that every instance answers the same and a restart (even kill -9) loses no
// summary of a reading the readings stream acknowledged; raw readings are
// read from the readings stream itself.
//
// # The history stream
//
// HistoryStream (TEMPSTREAM_HISTORY) holds blocks of buckets: the minutes of
// one hour of one sensor, on <HistorySubject>.m.<sensor>.<hour start, Unix
// seconds>, and the hours of one UTC day, on <HistorySubject>.h.<sensor>.<day
// start> (tempstream.history.m.lab-1.1764126000). MaxMsgsPerSubject is 1: the
// newest version of a block replaces the one before, as in a KV bucket. A
// block's data (binary, storedBlock.encode) holds its buckets (min, max,
// sum, count), the highest readings-stream sequence number it accounts for
// (upTo) and the readings stream's creation time (a stream created anew
// numbers from 1 again). A version holds exactly the readings of its sensor
// and span numbered up to upTo. Each version is written with a Nats-TTL of
// block end + HistoryAge - now, so a block lives HistoryAge past its end
// however late it was written (a backfill of last week expires when last
// week does, not HistoryAge after the backfill); the stream's MaxAge
// (HistoryAge + 1 h) only backs that up, and queries leave out buckets that
// ended more than HistoryAge ago. <HistorySubject>.checkpoint holds
// {"seq":C,"ep":…}: every reading numbered up to C is in the stored blocks.
//
// Why blocks, not a message per bucket (as first built): a day of minutes
// is 1,440 messages to read, and the server's per-message cost of a direct
// get (headers rewritten for each) made that 12 ms at the median and 50 ms
// at p99 here, where 25 blocks take under 1 ms; and the server keeps an
// index entry per subject, which for 1,000 sensors and 30 days would be 43
// million subjects instead of 750,000. The price is write volume: each
// flush rewrites a sensor's current blocks whole (up to 1.6 KB for an hour of
// minutes, 0.7 KB for a day of hours; about 1.3 KB a second per live sensor
// on average, against about 0.4 KB with a message per bucket).
//
// # Building it
//
// Each instance follows the readings stream with one ordered consumer of
// its own, from the checkpoint on, and keeps the readings it consumed since
// its last flush, per block (at most FlushEvery, or 200,000 readings while
// catching up). A flush, at position P (the last reading consumed):
//
//  1. reads the checkpoint; readings up to it are stored already and are
//     dropped (another instance got there first: with several instances
//     usually the whole flush is dropped, and only one of them writes);
//  2. merges into each changed block's stored version (known from this
//     instance's last write of it, or read with one batched direct get) the
//     readings numbered above its upTo, and writes it with upTo = P and
//     Nats-Expected-Last-Subject-Sequence = the version merged into (0: none).
//     On a conflict it reads the new version and merges again, only what
//     is above that version's upTo. The readings stay in memory until
//     their block is written;
//  3. once every changed block is written, moves the checkpoint to P
//     (compare-and-set too; never backwards).
//
// So a reading is counted once: a version's writer held every reading of
// the block between the version it merged into and P (it consumed them all,
// and anything at or before its starting checkpoint was stored already), and
// a later writer adds only readings above upTo. A crash anywhere (in the
// middle of a flush, between the blocks and the checkpoint) leaves stored
// versions that are each complete up to their own upTo, and the replay from
// the checkpoint skips what they hold. No leader is elected: compare-and-set
// makes concurrent writers safe, and the checkpoint makes them cheap.
//
// What the readings stream drops before an instance consumed it (its
// MaxMsgs or MaxAge, while no instance ran) is lost to the summaries, and
// logged.
//
// We did not keep the summaries in the memory of each instance (rebuilt from
// the readings stream at start): the readings stream keeps --max-age (24 h),
// the history 30 days, and memory would grow with the history's length. We
// did not use JetStream's KV API: it is this same stream layout, but it
// hides the per-message TTL and the batched direct get the queries need.
//
// # Reading it
//
// Summaries asks for the blocks of its range by name, in direct gets of up
// to 1,000 subjects each (multi_last; the server answers at most 1,024 a
// request), the requests in flight together: a day of minutes is 25 blocks,
// 30 days of hours 31, one request each. An ordered consumer with
// DeliverLastPerSubject would read every block of the sensor, and direct
// gets one by one cost a round trip each.
//
// Raw reads the readings stream: a consumer filtered on the sensor's
// subject from the storage time from - reading.MaxFuture, keeping readings
// taken (by their "at") in [from, to); it stops two minutes of storage time
// past to (or past the limit-th reading). complete is false when from is
// older than the readings stream's first message. A reading stored more
// than two minutes after it was taken (a late backfill) may be missed by
// Raw; the summaries count it.
type JetStreamStore struct {
	o         JetStreamOptions
	js        jetstream.JetStream
	nc        *nats.Conn
	apiPrefix string
	now       func() time.Time

	stop    context.CancelFunc
	done    chan struct{}
	closed  atomic.Bool
	closeMu sync.Once

	position atomic.Uint64 // the last reading consumed
	synced   atomic.Uint64 // every reading up to it is in stored buckets
	epoch    atomic.Int64  // of the readings stream followed (creation time, Unix ns)

	f follower // the follower goroutine's own

	// In tests: hookWritten is called after each block write is sent in a
	// flush, with how many were sent of how many; hookCheckpoint before the
	// checkpoint is written.
	hookWritten    func(n, total int)
	hookCheckpoint func()
}

// JetStreamOptions configure a JetStreamStore. Zero values get the defaults
// named.
type JetStreamOptions struct {
	// Stream and Subject are the readings stream and its subjects' prefix:
	// <Subject>.<sensor> ("TEMPSTREAM", "tempstream.temperature"; natsjs's).
	Stream  string
	Subject string
	// HistoryStream and HistorySubject are the summaries' stream and
	// subjects' prefix ("TEMPSTREAM_HISTORY", "tempstream.history").
	HistoryStream  string
	HistorySubject string
	// HistoryAge is how long a bucket is kept after its end (30 days).
	HistoryAge time.Duration
	// Replicas of the history stream (1).
	Replicas int
	// FlushEvery is how long readings wait in memory before their buckets
	// are written (1s): a summary shows a reading at most this much later.
	FlushEvery time.Duration
	// Logger gets what goes wrong while following; nil discards.
	Logger *slog.Logger
}

var _ Store = (*JetStreamStore)(nil)

// OpenJetStream creates or updates the history stream (retrying while a
// fresh cluster elects a leader, until ctx ends) and returns at once: the
// store catches up with the readings stream from the checkpoint in the
// background, and queries answer what is stored meanwhile. js is not closed
// by Close.
//
// With a natsjs.Store ns: OpenJetStream(ctx, ns.JetStream(),
// JetStreamOptions{Stream: ns.StreamName(), Subject: ns.Subject(), …}).
func OpenJetStream(ctx context.Context, js jetstream.JetStream, o JetStreamOptions) (*JetStreamStore, error) {
	return openJetStream(ctx, js, o, nil)
}

// openJetStream is OpenJetStream, with set (in tests) called on the store
// before it starts following.
func openJetStream(ctx context.Context, js jetstream.JetStream, o JetStreamOptions, set func(*JetStreamStore)) (*JetStreamStore, error) {
	o.Stream = cmp.Or(o.Stream, "TEMPSTREAM")
	o.Subject = cmp.Or(o.Subject, "tempstream.temperature")
	o.HistoryStream = cmp.Or(o.HistoryStream, "TEMPSTREAM_HISTORY")
	o.HistorySubject = cmp.Or(o.HistorySubject, "tempstream.history")
	o.HistoryAge = cmp.Or(o.HistoryAge, 30*24*time.Hour)
	o.Replicas = max(o.Replicas, 1)
	o.FlushEvery = cmp.Or(o.FlushEvery, time.Second)
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.HistoryAge < 0 {
		return nil, fmt.Errorf("history: HistoryAge %v is negative", o.HistoryAge)
	}
	s := &JetStreamStore{
		o:         o,
		js:        js,
		nc:        js.Conn(),
		apiPrefix: cmp.Or(js.Options().APIPrefix, jetstream.DefaultAPIPrefix),
		now:       time.Now,
		done:      make(chan struct{}),
	}
	if !strings.HasSuffix(s.apiPrefix, ".") {
		s.apiPrefix += "."
	}
	cfg := jetstream.StreamConfig{
		Name:              o.HistoryStream,
		Subjects:          []string{o.HistorySubject + ".>"},
		Storage:           jetstream.FileStorage,
		Replicas:          o.Replicas,
		MaxMsgsPerSubject: 1,
		MaxAge:            o.HistoryAge + time.Hour,
		Discard:           jetstream.DiscardOld,
		AllowDirect:       true,
		AllowMsgTTL:       true,
	}
	for { // a fresh cluster answers "no leader" until it has elected one
		attempt, cancel := context.WithTimeout(ctx, 5*time.Second)
		_, err := js.CreateOrUpdateStream(attempt, cfg)
		cancel()
		if err == nil {
			break
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("history: create jetstream stream %s: %w", o.HistoryStream, err)
		case <-time.After(250 * time.Millisecond):
		}
	}
	if set != nil {
		set(s)
	}
	runCtx, stop := context.WithCancel(context.Background())
	s.stop = stop
	go s.run(runCtx)
	return s, nil
}

// Kind is "jetstream".
func (*JetStreamStore) Kind() string { return "jetstream" }

// Position is the sequence number of the last reading this instance
// consumed from the readings stream.
func (s *JetStreamStore) Position() uint64 { return s.position.Load() }

// Synced is a sequence number of the readings stream up to which every
// reading is in the stored summaries (written by this instance or another).
func (s *JetStreamStore) Synced() uint64 { return s.synced.Load() }

// Close stops following the readings stream, after a last flush of what it
// holds (up to 2 s). It is idempotent; queries then fail with ErrClosed.
func (s *JetStreamStore) Close() {
	s.closeMu.Do(func() {
		s.closed.Store(true)
		if s.stop != nil {
			s.stop()
			<-s.done
		}
	})
}

// Summaries returns the stored buckets of sensor at g starting in [from,
// to), oldest first. The range is cut to what HistoryAge keeps.
func (s *JetStreamStore) Summaries(ctx context.Context, sensor string, g Granularity, from, to time.Time) ([]Bucket, error) {
	bs, err := s.summaries(ctx, sensor, g, from, to)
	return bs, unavailable(err)
}

func (s *JetStreamStore) summaries(ctx context.Context, sensor string, g Granularity, from, to time.Time) ([]Bucket, error) {
	if s.closed.Load() {
		return nil, ErrClosed
	}
	if g != Minute && g != Hour {
		return nil, fmt.Errorf("history: no summaries of %v", time.Duration(g))
	}
	if !validSubjectKey(sensor) {
		return nil, nil
	}
	w := time.Duration(g)
	now := s.now()
	if oldest := now.Add(-s.o.HistoryAge - w); from.Before(oldest) {
		from = oldest
	}
	if latest := now.Add(reading.MaxFuture + w); to.After(latest) {
		to = latest
	}
	if !from.Before(to) {
		return nil, nil
	}
	bw := blockWidth(g)
	var subjects []string
	for t := from.Truncate(bw); t.Before(to); t = t.Add(bw) {
		subjects = append(subjects, blockSubject(s.o.HistorySubject, g, sensor, t))
	}
	var (
		out []Bucket
		b   storedBlock
		bad error
	)
	err := lastMsgs(ctx, s.nc, s.apiPrefix, s.o.HistoryStream, subjects, func(subj string, _ uint64, data []byte) {
		start, ok := startOfSubject(subj)
		if !ok {
			return
		}
		if err := decodeBlock(data, &b); err != nil {
			bad = cmpErr(bad, fmt.Errorf("history: block %s: %w", subj, err))
			return
		}
		for i, a := range b.Buckets {
			at := start.Add(time.Duration(i) * w)
			if a.Count > 0 && !at.Before(from) && at.Before(to) {
				out = append(out, Bucket{Start: at, Min: a.Min, Max: a.Max, Sum: a.Sum, Count: a.Count})
			}
		}
	})
	if err = cmpErr(err, bad); err != nil {
		return nil, err
	}
	slices.SortFunc(out, func(a, b Bucket) int { return a.Start.Compare(b.Start) })
	return out, nil
}

// unavailable marks err as ErrUnavailable when JetStream had no responder
// for a request (in a cluster: its API or a leader not yet, or no longer,
// listening), so that callers can say "try again" without knowing NATS.
func unavailable(err error) error {
	if errors.Is(err, nats.ErrNoResponders) {
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	return err
}

// rawSlack is how much later than taken a reading is looked for in the
// readings stream's storage time.
const rawSlack = 2 * time.Minute

// Raw returns up to limit readings of sensor taken in [from, to), oldest
// first, read from the readings stream; complete is false when from is
// older than the stream's first message.
func (s *JetStreamStore) Raw(ctx context.Context, sensor string, from, to time.Time, limit int) ([]Sample, bool, error) {
	rs, complete, err := s.raw(ctx, sensor, from, to, limit)
	return rs, complete, unavailable(err)
}

func (s *JetStreamStore) raw(ctx context.Context, sensor string, from, to time.Time, limit int) ([]Sample, bool, error) {
	if s.closed.Load() {
		return nil, false, ErrClosed
	}
	st, err := s.js.Stream(ctx, s.o.Stream)
	if err != nil {
		return nil, false, fmt.Errorf("history: readings stream %s: %w", s.o.Stream, err)
	}
	state := st.CachedInfo().State
	complete := true
	switch {
	case state.Msgs > 0:
		// Nothing left the stream's front yet, or from is within it.
		complete = state.FirstSeq <= 1 || !from.Before(state.FirstTime)
	case state.LastSeq > 0: // every reading is gone
		complete = from.After(state.LastTime)
	}
	if limit <= 0 || !from.Before(to) || !validSubjectKey(sensor) || state.Msgs == 0 {
		return nil, complete, nil
	}
	cons, err := st.CreateConsumer(ctx, jetstream.ConsumerConfig{
		FilterSubject:     s.o.Subject + "." + sensor,
		DeliverPolicy:     jetstream.DeliverByStartTimePolicy,
		OptStartTime:      new(from.Add(-reading.MaxFuture)),
		AckPolicy:         jetstream.AckNonePolicy,
		MemoryStorage:     true,
		Replicas:          1,
		InactiveThreshold: 10 * time.Second,
	})
	if err != nil {
		return nil, false, fmt.Errorf("history: raw readings of %s: %w", sensor, err)
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = st.DeleteConsumer(ctx, cons.CachedInfo().Name) // else it goes after InactiveThreshold
	}()
	pending := cons.CachedInfo().NumPending
	var (
		out      []Sample
		firstMax time.Time // the newest "at" of the first limit kept
	)
	for stop := false; pending > 0 && !stop; {
		fctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		batch, err := cons.Fetch(int(min(pending, 1000)), jetstream.FetchContext(fctx))
		if err != nil {
			cancel()
			return nil, false, fmt.Errorf("history: raw readings of %s: %w", sensor, err)
		}
		got := 0
		for msg := range batch.Messages() {
			got++
			meta, err := msg.Metadata()
			if err != nil || stop {
				continue
			}
			pending = meta.NumPending
			c, at, ok := parseReading(msg.Data())
			if !ok {
				continue
			}
			if at.IsZero() {
				at = meta.Timestamp
			}
			if !at.Before(from) && at.Before(to) {
				out = append(out, Sample{Seq: meta.Sequence.Stream, Sensor: sensor, At: at.UTC(), Celsius: c})
				if len(out) <= limit && at.After(firstMax) {
					firstMax = at
				}
			}
			// Past to, or past limit readings: what follows was taken
			// later (unless stored over rawSlack after it was taken).
			if meta.Timestamp.After(to.Add(rawSlack)) ||
				len(out) >= limit && meta.Timestamp.After(firstMax.Add(rawSlack)) {
				stop = true
			}
		}
		cancel()
		if err := batch.Error(); err != nil && !errors.Is(err, nats.ErrTimeout) && !errors.Is(err, context.DeadlineExceeded) {
			return nil, false, fmt.Errorf("history: raw readings of %s: %w", sensor, err)
		}
		if got == 0 {
			break
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, false, err
	}
	slices.SortStableFunc(out, func(a, b Sample) int { return a.At.Compare(b.At) })
	if len(out) > limit {
		out = out[:limit]
	}
	if complete && len(out) < limit {
		// The scan follows storage time, so a reading stored long after it
		// was taken (a backfill) is not found: if the summaries count more
		// readings than were found, the raw answer is not complete.
		if ok, err := s.rawAgreesWithSummaries(ctx, sensor, from, to, out); err != nil {
			return nil, false, err
		} else if !ok {
			complete = false
		}
	}
	return out, complete, nil
}

// rawAgreesWithSummaries reports whether raw, the readings Raw found of
// sensor in [from, to), holds at least as many readings as the stored
// summaries count in the whole buckets inside that range (by the hour for
// ranges of 3 hours or more, else by the minute). Summaries lag their
// readings by a flush, so raw may hold more, never fewer.
func (s *JetStreamStore) rawAgreesWithSummaries(ctx context.Context, sensor string, from, to time.Time, raw []Sample) (bool, error) {
	g := Minute
	if to.Sub(from) >= 3*time.Hour {
		g = Hour
	}
	w := time.Duration(g)
	lo, hi := from.Truncate(w), to.Truncate(w)
	if lo.Before(from) {
		lo = lo.Add(w)
	}
	if !lo.Before(hi) {
		return true, nil
	}
	bs, err := s.Summaries(ctx, sensor, g, lo, hi)
	if err != nil {
		return false, err
	}
	var counted int64
	for _, b := range bs {
		counted += b.Count
	}
	var found int64
	for _, r := range raw {
		if !r.At.Before(lo) && r.At.Before(hi) {
			found++
		}
	}
	return found >= counted, nil
}
