package natsjs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nuid"

	"github.com/tempstream/tempstream/pkg/sse"
)

// ErrNotStored means JetStream did not confirm that a batch was stored.
var ErrNotStored = errors.New("natsjs: not stored")

// ackTimeout bounds the wait for JetStream's acknowledgement.
const ackTimeout = 2 * time.Second

// errCodeDuplicateInProcess is JetStream's answer to a message whose
// Nats-Msg-Id another publisher is storing at that moment: for a tick that
// several instances publish, the tick is (being) stored.
const errCodeDuplicateInProcess = 10158

// Publish stores msgs in JetStream as one atomic batch (all or none) and
// returns their IDs ("<epoch>-<JetStream sequence number>") once JetStream has
// stored them. It refuses what the target stream would refuse (length,
// keys) before sending anything.
func (s *Store) Publish(ctx context.Context, msgs []sse.Message) ([]string, error) {
	if err := s.target.CheckBatch(msgs); err != nil {
		return nil, err
	}
	// A leader that dies holding the commit never answers.
	ctx, cancel := context.WithTimeout(ctx, ackTimeout)
	defer cancel()
	if len(msgs) == 0 {
		return nil, nil
	}
	batch := nuid.Next()
	var ack struct {
		jetstream.PubAck
		BatchSize int `json:"count"`
		Error     *struct {
			Description string `json:"description"`
		} `json:"error"`
	}
	for i, m := range msgs {
		msg := nats.NewMsg(subjectOf(s.o.Subject, m.Key))
		msg.Data = m.Data
		if len(msgs) > 1 {
			msg.Header.Set("Nats-Batch-Id", batch)
			msg.Header.Set("Nats-Batch-Sequence", strconv.Itoa(i+1))
		}
		if i < len(msgs)-1 {
			if err := s.nc.PublishMsg(msg); err != nil {
				return nil, fmt.Errorf("%w: %v", ErrNotStored, err)
			}
			continue
		}
		if len(msgs) > 1 {
			msg.Header.Set("Nats-Batch-Commit", "1")
		}
		reply, err := s.nc.RequestMsgWithContext(ctx, msg)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrNotStored, err)
		}
		if err := json.Unmarshal(reply.Data, &ack); err != nil {
			return nil, fmt.Errorf("%w: bad acknowledgement %q", ErrNotStored, reply.Data)
		}
	}
	if ack.Error != nil || ack.Sequence == 0 {
		desc := "no sequence"
		if ack.Error != nil {
			desc = ack.Error.Description
		}
		return nil, fmt.Errorf("%w: %s", ErrNotStored, desc)
	}
	ids := make([]string, len(msgs))
	first := ack.Sequence - uint64(len(msgs)) + 1 // an atomic batch is stored contiguously
	for i := range ids {
		ids[i] = sse.FormatID(s.epoch, first+uint64(i))
	}
	return ids, nil
}

// PublishTick stores one message per key for the simulator's tick at, each
// with the Nats-Msg-Id "<key>@<at in ms>", so when several instances
// simulate the same tick JetStream keeps the first and drops the others
// (within the de-duplication window). It waits for every acknowledgement.
func (s *Store) PublishTick(ctx context.Context, at time.Time, msgs []sse.Message) error {
	futures := make([]jetstream.PubAckFuture, 0, len(msgs))
	for _, m := range msgs {
		msg := nats.NewMsg(subjectOf(s.o.Subject, m.Key))
		msg.Data = m.Data
		f, err := s.js.PublishMsgAsync(msg, jetstream.WithMsgID(m.Key+"@"+strconv.FormatInt(at.UnixMilli(), 10)))
		if err != nil {
			return fmt.Errorf("%w: %v", ErrNotStored, err)
		}
		futures = append(futures, f)
	}
	timeout := time.NewTimer(ackTimeout)
	defer timeout.Stop()
	for _, f := range futures {
		select {
		case <-f.Ok():
		case err := <-f.Err():
			var apiErr *jetstream.APIError
			if errors.As(err, &apiErr) && apiErr.ErrorCode == errCodeDuplicateInProcess {
				continue // another instance is storing this tick
			}
			return fmt.Errorf("%w: %v", ErrNotStored, err)
		case <-timeout.C:
			return fmt.Errorf("%w: no acknowledgement within %v", ErrNotStored, ackTimeout)
		case <-ctx.Done():
			return fmt.Errorf("%w: %v", ErrNotStored, ctx.Err())
		}
	}
	return nil
}
