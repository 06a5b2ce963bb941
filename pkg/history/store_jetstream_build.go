package history

// How a JetStreamStore builds the summaries: it follows the readings stream
// and flushes what it read into the stored buckets (see JetStreamStore's
// doc for why this counts every reading once).

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Bounds of one flush.
const (
	// maxPending readings (each in two buckets) are held before a flush
	// even if FlushEvery has not passed: catching up flushes in steps.
	maxPending = 200_000
	// maxInFlight block writes wait for their acknowledgements together.
	maxInFlight = 1000
	// maxRounds of conflicts a flush resolves before it gives up (and
	// tries again later with what it holds).
	maxRounds = 20
	// flushTimeout bounds the last flush of Close.
	flushTimeout = 2 * time.Second
)

// errReadingsReplaced means the readings stream was created anew under the
// follower: what it holds may mix the two streams' numberings.
var errReadingsReplaced = errors.New("history: the readings stream was created anew")

// follower is the state of the goroutine that builds the summaries.
type follower struct {
	epoch   int64  // the readings stream's creation time, Unix ns (0: not yet known)
	pos     uint64 // the last reading consumed
	pending map[string]*pendingBlock
	held    int // readings held in pending (each counted once)
	cache   map[string]*knownVersion
	gen     uint64 // flushes done, for the cache's eviction

	cp    checkpoint
	cpSeq uint64 // the checkpoint's sequence number in the history stream (0: none)

	lastFlush time.Time
	lost      uint64 // readings gone from the readings stream before they were consumed
}

// pendingBlock holds the readings consumed for one block since it was last
// written, in the order consumed, with their buckets' offsets.
type pendingBlock struct {
	g     Granularity
	start time.Time
	seqs  []uint64
	vals  []float64
	offs  []uint8
}

// knownVersion is a stored version of a block (seq 0: none).
type knownVersion struct {
	seq uint64
	b   *storedBlock
	gen uint64
}

func (s *JetStreamStore) run(ctx context.Context) {
	defer close(s.done)
	s.f.pending = map[string]*pendingBlock{}
	s.f.cache = map[string]*knownVersion{}
	for ctx.Err() == nil {
		err := s.follow(ctx)
		if ctx.Err() != nil {
			break
		}
		s.o.Logger.Warn("history: following the readings stream", "stream", s.o.Stream, "err", err)
		select {
		case <-ctx.Done():
		case <-time.After(500 * time.Millisecond):
		}
	}
	if s.f.epoch != 0 {
		fctx, cancel := context.WithTimeout(context.Background(), flushTimeout)
		defer cancel()
		if err := s.flush(fctx); err != nil {
			s.o.Logger.Warn("history: last flush", "err", err)
		}
	}
}

// follow consumes the readings stream from the position after the last
// reading held (or the checkpoint), flushing every FlushEvery, until an
// error or ctx's end.
func (s *JetStreamStore) follow(ctx context.Context) error {
	f := &s.f
	ep, st, err := s.readingsEpoch(ctx)
	if err != nil {
		return err
	}
	if ep != f.epoch {
		if f.epoch != 0 {
			s.o.Logger.Warn("history: the readings stream was created anew; following the new one from its start",
				"stream", s.o.Stream, "dropped", f.held)
			clear(f.pending)
			clear(f.cache)
			f.held = 0
		}
		if err := s.readCheckpoint(ctx); err != nil {
			return err
		}
		f.epoch = ep
		s.epoch.Store(ep)
		f.pos = 0
		if f.cp.Epoch == ep {
			f.pos = f.cp.Seq
		}
		s.synced.Store(f.pos)
		s.position.Store(f.pos)
	}
	if first := st.FirstSeq; st.Msgs > 0 && first > f.pos+1 {
		f.lost += first - f.pos - 1
		s.o.Logger.Warn("history: readings were dropped from the readings stream before they were summarised",
			"stream", s.o.Stream, "from", f.pos+1, "to", first-1)
	}
	cons, err := s.js.OrderedConsumer(ctx, s.o.Stream, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{s.o.Subject + ".>"},
		DeliverPolicy:  jetstream.DeliverByStartSequencePolicy,
		OptStartSeq:    f.pos + 1,
	})
	if err != nil {
		return fmt.Errorf("history: consumer of %s: %w", s.o.Stream, err)
	}
	it, err := cons.Messages(jetstream.PullMaxMessages(2000))
	if err != nil {
		return fmt.Errorf("history: consume %s: %w", s.o.Stream, err)
	}
	stopped := make(chan struct{})
	defer close(stopped)
	go func() {
		select {
		case <-ctx.Done():
		case <-stopped:
		}
		it.Stop()
	}()
	prefix := s.o.Subject + "."
	for {
		wait := time.Until(f.lastFlush.Add(s.o.FlushEvery))
		if wait <= 0 || f.held >= maxPending {
			f.lastFlush = time.Now()
			if err := s.flush(ctx); err != nil {
				if errors.Is(err, errReadingsReplaced) {
					return err
				}
				s.o.Logger.Warn("history: flush", "err", err, "held", f.held)
				select { // NATS is down, or busy: try again in a while
				case <-ctx.Done():
					return ctx.Err()
				case <-time.After(500 * time.Millisecond):
				}
			}
			continue
		}
		msg, err := it.Next(jetstream.NextMaxWait(wait))
		if errors.Is(err, nats.ErrTimeout) {
			continue
		}
		if err != nil {
			return fmt.Errorf("history: consume %s: %w", s.o.Stream, err)
		}
		s.hold(msg, prefix)
	}
}

// readingsEpoch looks the readings stream up: its creation time (Unix ns)
// and its state.
func (s *JetStreamStore) readingsEpoch(ctx context.Context) (int64, jetstream.StreamState, error) {
	st, err := s.js.Stream(ctx, s.o.Stream)
	if err != nil {
		return 0, jetstream.StreamState{}, fmt.Errorf("history: readings stream %s: %w", s.o.Stream, err)
	}
	info := st.CachedInfo()
	return info.Created.UnixNano(), info.State, nil
}

// hold keeps one consumed reading for the buckets it falls in.
func (s *JetStreamStore) hold(msg jetstream.Msg, prefix string) {
	f := &s.f
	meta, err := msg.Metadata()
	if err != nil {
		return
	}
	seq := meta.Sequence.Stream
	f.pos = seq
	s.position.Store(seq)
	sensor := strings.TrimPrefix(msg.Subject(), prefix)
	if sensor == noSensor || sensor == "" {
		return
	}
	c, at, ok := parseReading(msg.Data())
	if !ok || math.IsNaN(c) || math.IsInf(c, 0) {
		s.o.Logger.Debug("history: reading without celsius", "seq", seq)
		return
	}
	if at.IsZero() {
		at = meta.Timestamp
	}
	now := s.now()
	held := false
	for _, g := range [...]Granularity{Minute, Hour} {
		w := time.Duration(g)
		bucket := at.Truncate(w)
		if !bucket.Add(w + s.o.HistoryAge).After(now) {
			continue // its bucket is past HistoryAge
		}
		start := at.Truncate(blockWidth(g))
		subj := blockSubject(s.o.HistorySubject, g, sensor, start)
		p := f.pending[subj]
		if p == nil {
			p = &pendingBlock{g: g, start: start.UTC()}
			f.pending[subj] = p
		}
		p.seqs = append(p.seqs, seq)
		p.vals = append(p.vals, c)
		p.offs = append(p.offs, uint8(bucket.Sub(start)/w))
		held = true
	}
	if held {
		f.held++
	}
}

// noSensor is the readings subject's token of the empty sensor.
const noSensor = "_"

// flush writes every bucket with readings held, then the checkpoint (see
// JetStreamStore's doc). What it could not write stays held.
func (s *JetStreamStore) flush(ctx context.Context) error {
	f := &s.f
	if len(f.pending) == 0 && f.pos <= s.synced.Load() {
		return nil
	}
	if len(f.pending) > 0 {
		if ep, _, err := s.readingsEpoch(ctx); err != nil {
			return err
		} else if ep != f.epoch {
			return errReadingsReplaced
		}
	}
	if err := s.readCheckpoint(ctx); err != nil {
		return err
	}
	if f.cp.Epoch == f.epoch && f.cp.Seq > 0 {
		s.prune(f.cp.Seq) // stored already (by another instance)
	}
	f.gen++
	todo := make([]string, 0, len(f.pending))
	var unknown []string
	for subj := range f.pending {
		todo = append(todo, subj)
		if f.cache[subj] == nil {
			unknown = append(unknown, subj)
		}
	}
	for round := 0; len(todo) > 0; round++ {
		if round == maxRounds {
			return fmt.Errorf("history: %d buckets still conflicting after %d rounds", len(todo), maxRounds)
		}
		if err := s.readVersions(ctx, unknown); err != nil {
			return err
		}
		conflicts, err := s.write(ctx, todo)
		if err != nil {
			return err
		}
		todo, unknown = conflicts, conflicts
	}
	f.held = 0
	if s.hookCheckpoint != nil {
		s.hookCheckpoint()
	}
	if err := s.writeCheckpoint(ctx); err != nil {
		return err
	}
	s.synced.Store(f.pos)
	for subj, v := range f.cache { // keep the versions of the last two flushes
		if v.gen+1 < f.gen {
			delete(f.cache, subj)
		}
	}
	return nil
}

// prune drops the held readings numbered up to seq.
func (s *JetStreamStore) prune(seq uint64) {
	f := &s.f
	for subj, p := range f.pending {
		i := 0
		for i < len(p.seqs) && p.seqs[i] <= seq {
			i++
		}
		if i == len(p.seqs) {
			delete(f.pending, subj)
			continue
		}
		p.seqs, p.vals, p.offs = p.seqs[i:], p.vals[i:], p.offs[i:]
	}
	if len(f.pending) == 0 {
		f.held = 0
	}
}

// readVersions reads the stored versions of subjects into the cache.
func (s *JetStreamStore) readVersions(ctx context.Context, subjects []string) error {
	f := &s.f
	for _, subj := range subjects {
		f.cache[subj] = &knownVersion{b: &storedBlock{}, gen: f.gen}
	}
	var bad error
	err := lastMsgs(ctx, s.nc, s.apiPrefix, s.o.HistoryStream, subjects, func(subj string, seq uint64, data []byte) {
		b := new(storedBlock)
		if err := decodeBlock(data, b); err != nil {
			bad = cmpErr(bad, fmt.Errorf("history: block %s: %w", subj, err))
			return
		}
		f.cache[subj] = &knownVersion{seq: seq, b: b, gen: f.gen}
	})
	if err = cmpErr(err, bad); err != nil {
		for _, subj := range subjects {
			delete(f.cache, subj)
		}
	}
	return err
}

// write merges the held readings of each bucket of todo into its known
// version and writes it, compare-and-set, maxInFlight at a time. It returns
// the buckets that met a newer version; on another error, what was not
// acknowledged stays held and its version unknown.
func (s *JetStreamStore) write(ctx context.Context, todo []string) (conflicts []string, err error) {
	f := &s.f
	type inFlight struct {
		subj string
		b    *storedBlock
		fut  jetstream.PubAckFuture
	}
	sent, total := 0, len(todo)
	for len(todo) > 0 {
		n := min(len(todo), maxInFlight)
		batch := make([]inFlight, 0, n)
		now := s.now()
		for _, subj := range todo[:n] {
			p, v := f.pending[subj], f.cache[subj]
			b, ok := s.merge(p, v)
			if !ok {
				delete(f.pending, subj)
				continue
			}
			ttl := p.start.Add(blockWidth(p.g) + s.o.HistoryAge).Sub(now)
			if ttl < time.Second {
				delete(f.pending, subj) // past HistoryAge by now
				continue
			}
			msg := nats.NewMsg(subj)
			msg.Data = b.encode()
			fut, perr := s.js.PublishMsgAsync(msg,
				jetstream.WithExpectLastSequencePerSubject(v.seq),
				jetstream.WithMsgTTL(ttl.Truncate(time.Second)+time.Second))
			if perr != nil {
				err = perr
				break
			}
			batch = append(batch, inFlight{subj, b, fut})
			sent++
			if s.hookWritten != nil {
				s.hookWritten(sent, total)
			}
		}
		todo = todo[n:]
		timeout := time.NewTimer(5 * time.Second)
		for _, w := range batch {
			select {
			case ack := <-w.fut.Ok():
				f.cache[w.subj] = &knownVersion{seq: ack.Sequence, b: w.b, gen: f.gen}
				delete(f.pending, w.subj)
			case werr := <-w.fut.Err():
				delete(f.cache, w.subj)
				var apiErr *jetstream.APIError
				if errors.As(werr, &apiErr) && (apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence ||
					apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequenceConstant) {
					conflicts = append(conflicts, w.subj)
					continue
				}
				err = cmpErr(err, werr)
			case <-timeout.C:
				delete(f.cache, w.subj)
				err = cmpErr(err, fmt.Errorf("history: no acknowledgement of %s", w.subj))
			case <-ctx.Done():
				delete(f.cache, w.subj)
				err = cmpErr(err, ctx.Err())
			}
		}
		timeout.Stop()
		if err != nil { // what was not sent keeps its known version
			return nil, fmt.Errorf("history: write buckets: %w", err)
		}
	}
	return conflicts, nil
}

// merge adds to version v the readings of p it does not hold, and returns
// the version to write (false: nothing to add).
func (s *JetStreamStore) merge(p *pendingBlock, v *knownVersion) (*storedBlock, bool) {
	f := &s.f
	var after uint64 // v holds p's readings up to after
	switch {
	case v.seq == 0:
	case v.b.Epoch == f.epoch:
		after = v.b.UpTo
	case v.b.Epoch > f.epoch:
		// Written from a readings stream created after ours: ours is gone.
		return nil, false
	default:
		// Written from a readings stream since replaced: it holds none of
		// the readings of ours.
	}
	i := 0
	for i < len(p.seqs) && p.seqs[i] <= after {
		i++
	}
	if i == len(p.seqs) {
		return nil, false
	}
	b := new(storedBlock)
	if v.seq != 0 {
		*b = *v.b
	}
	for ; i < len(p.seqs); i++ {
		b.Buckets[p.offs[i]].add(p.vals[i])
	}
	b.UpTo = max(after, f.pos)
	b.Epoch = f.epoch
	return b, true
}

// checkpointSubject is where the checkpoint is kept.
func (s *JetStreamStore) checkpointSubject() string { return s.o.HistorySubject + ".checkpoint" }

// readCheckpoint reads the stored checkpoint (none: zero).
func (s *JetStreamStore) readCheckpoint(ctx context.Context) error {
	f := &s.f
	cp, seq := checkpoint{}, uint64(0)
	var bad error
	err := lastMsgs(ctx, s.nc, s.apiPrefix, s.o.HistoryStream, []string{s.checkpointSubject()}, func(_ string, n uint64, data []byte) {
		seq = n
		if bad = json.Unmarshal(data, &cp); bad != nil {
			bad = fmt.Errorf("history: checkpoint %q: %w", data, bad)
		}
	})
	if err = cmpErr(err, bad); err != nil {
		return err
	}
	f.cp, f.cpSeq = cp, seq
	return nil
}

// writeCheckpoint moves the stored checkpoint to the position, unless it is
// there or past it already (of this readings stream).
func (s *JetStreamStore) writeCheckpoint(ctx context.Context) error {
	f := &s.f
	want := checkpoint{Seq: f.pos, Epoch: f.epoch}
	for range maxRounds {
		if f.cp.Epoch == want.Epoch && f.cp.Seq >= want.Seq || f.cp.Epoch > want.Epoch {
			return nil
		}
		msg := nats.NewMsg(s.checkpointSubject())
		msg.Data = fmt.Appendf(nil, `{"seq":%d,"ep":%d}`, want.Seq, want.Epoch)
		ack, err := s.js.PublishMsg(ctx, msg, jetstream.WithExpectLastSequencePerSubject(f.cpSeq))
		if err == nil {
			f.cp, f.cpSeq = want, ack.Sequence
			return nil
		}
		if !errors.Is(err, jetstream.ErrKeyExists) {
			var apiErr *jetstream.APIError
			if !errors.As(err, &apiErr) || apiErr.ErrorCode != jetstream.JSErrCodeStreamWrongLastSequenceConstant {
				return fmt.Errorf("history: write checkpoint: %w", err)
			}
		}
		if err := s.readCheckpoint(ctx); err != nil {
			return err
		}
	}
	return fmt.Errorf("history: checkpoint still conflicting after %d rounds", maxRounds)
}
