package history

// The JetStream store's wire: subjects of the history stream, the stored
// form of a block of buckets and of the checkpoint, the readings' data, and batched
// direct gets.

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
)

// granToken is a granularity's token in a block's subject.
func granToken(g Granularity) string {
	if g == Hour {
		return "h"
	}
	return "m"
}

// blockWidth is the span of the block that holds the buckets of g: an hour
// of minutes, a day (UTC) of hours.
func blockWidth(g Granularity) time.Duration {
	if g == Hour {
		return 24 * time.Hour
	}
	return time.Hour
}

// maxBuckets a block holds.
const maxBuckets = 60

// blockSubject is where the block of sensor's buckets at g starting at
// start is kept: <prefix>.<m|h>.<sensor>.<block start, Unix seconds>. The
// sensor is the readings subject's last tokens as they are (it may hold
// dots): the last token is always the start, so no sensor's subjects are
// another's.
func blockSubject(prefix string, g Granularity, sensor string, start time.Time) string {
	return prefix + "." + granToken(g) + "." + sensor + "." + strconv.FormatInt(start.Unix(), 10)
}

// startOfSubject reads the start of a block from its subject.
func startOfSubject(subj string) (time.Time, bool) {
	i := strings.LastIndexByte(subj, '.')
	if i < 0 {
		return time.Time{}, false
	}
	sec, err := strconv.ParseInt(subj[i+1:], 10, 64)
	if err != nil {
		return time.Time{}, false
	}
	return time.Unix(sec, 0).UTC(), true
}

// validSubjectKey reports whether sensor can stand in a subject as the
// readings stream writes it: non-empty tokens, no wildcard, no white space.
func validSubjectKey(sensor string) bool {
	if sensor == "" || strings.ContainsAny(sensor, " \t\r\n*>") {
		return false
	}
	for tok := range strings.SplitSeq(sensor, ".") {
		if tok == "" {
			return false
		}
	}
	return true
}

// aggregate is one bucket's summary.
type aggregate struct {
	Min, Max, Sum float64
	Count         int64
}

func (a *aggregate) add(c float64) {
	if a.Count == 0 {
		a.Min, a.Max = c, c
	} else {
		a.Min, a.Max = min(a.Min, c), max(a.Max, c)
	}
	a.Sum += c
	a.Count++
}

// storedBlock is a block of buckets as kept in the history stream. It holds
// exactly the readings of its sensor and span whose sequence number in the
// readings stream (of creation time Epoch) is at most UpTo: whoever writes
// it knows every such reading up to UpTo, and a writer merges into it only
// readings past UpTo, so none is counted twice.
type storedBlock struct {
	UpTo    uint64
	Epoch   int64                 // the readings stream's creation time, Unix ns
	Buckets [maxBuckets]aggregate // by offset in the block (Count 0: none)
}

// The stored form of a block, big-endian:
//
//	byte    1 (format)
//	int64   Epoch
//	uint64  UpTo
//	byte    n, the buckets that follow (those with readings)
//	n times: byte offset, uvarint count, float64 min, max, sum
//
// A full block of minutes is 1,578 to 1,758 bytes; JSON would be twice that.
const blockFormat = 1

func (b *storedBlock) encode() []byte {
	n := 0
	for i := range b.Buckets {
		if b.Buckets[i].Count > 0 {
			n++
		}
	}
	out := make([]byte, 0, 18+n*30)
	out = append(out, blockFormat)
	out = binary.BigEndian.AppendUint64(out, uint64(b.Epoch))
	out = binary.BigEndian.AppendUint64(out, b.UpTo)
	out = append(out, byte(n))
	for i, a := range b.Buckets {
		if a.Count == 0 {
			continue
		}
		out = append(out, byte(i))
		out = binary.AppendUvarint(out, uint64(a.Count))
		out = binary.BigEndian.AppendUint64(out, math.Float64bits(a.Min))
		out = binary.BigEndian.AppendUint64(out, math.Float64bits(a.Max))
		out = binary.BigEndian.AppendUint64(out, math.Float64bits(a.Sum))
	}
	return out
}

var errBadBlock = errors.New("history: malformed block")

func decodeBlock(data []byte, b *storedBlock) error {
	*b = storedBlock{}
	if len(data) < 18 || data[0] != blockFormat {
		return errBadBlock
	}
	b.Epoch = int64(binary.BigEndian.Uint64(data[1:]))
	b.UpTo = binary.BigEndian.Uint64(data[9:])
	n := int(data[17])
	data = data[18:]
	for range n {
		if len(data) < 2 || data[0] >= maxBuckets {
			return errBadBlock
		}
		off := data[0]
		count, k := binary.Uvarint(data[1:])
		if k <= 0 || len(data) < 1+k+24 || count == 0 {
			return errBadBlock
		}
		data = data[1+k:]
		b.Buckets[off] = aggregate{
			Count: int64(count),
			Min:   math.Float64frombits(binary.BigEndian.Uint64(data)),
			Max:   math.Float64frombits(binary.BigEndian.Uint64(data[8:])),
			Sum:   math.Float64frombits(binary.BigEndian.Uint64(data[16:])),
		}
		data = data[24:]
	}
	if len(data) != 0 {
		return errBadBlock
	}
	return nil
}

// checkpoint is the history stream's note that every reading of the
// readings stream (of creation time Epoch) up to Seq is in the stored
// buckets.
type checkpoint struct {
	Seq   uint64 `json:"seq"`
	Epoch int64  `json:"ep"`
}

// parseReading reads celsius and at from a reading's event data
// ({"data":"21.50","celsius":21.5,"sensor":"lab-1","at":"…"}), looking for
// the two fields directly, and through encoding/json when that fails. at is
// zero when the data has none.
func parseReading(data []byte) (celsius float64, at time.Time, ok bool) {
	if c, a, ok := scanReading(data); ok {
		return c, a, true
	}
	var r struct {
		Celsius *float64 `json:"celsius"`
		At      string   `json:"at"`
	}
	if json.Unmarshal(data, &r) != nil || r.Celsius == nil {
		return 0, time.Time{}, false
	}
	at, _ = time.Parse(time.RFC3339Nano, r.At)
	return *r.Celsius, at, true
}

var (
	celsiusKey = []byte(`"celsius":`)
	atKey      = []byte(`"at":"`)
)

func scanReading(data []byte) (float64, time.Time, bool) {
	i := bytes.Index(data, celsiusKey)
	if i < 0 {
		return 0, time.Time{}, false
	}
	num := data[i+len(celsiusKey):]
	end := bytes.IndexAny(num, ",}")
	if end <= 0 {
		return 0, time.Time{}, false
	}
	c, err := strconv.ParseFloat(string(bytes.TrimSpace(num[:end])), 64)
	if err != nil {
		return 0, time.Time{}, false
	}
	j := bytes.Index(data, atKey)
	if j < 0 {
		return 0, time.Time{}, false
	}
	ts := data[j+len(atKey):]
	q := bytes.IndexByte(ts, '"')
	if q < 0 {
		return 0, time.Time{}, false
	}
	at, err := time.Parse(time.RFC3339Nano, string(ts[:q]))
	if err != nil {
		return 0, time.Time{}, false
	}
	return c, at, true
}

// maxMultiLast is how many subjects one direct get asks for: the server
// answers at most 1,024 messages to one multi_last request.
const maxMultiLast = 1000

// errTooManyResults is the server's answer to a multi_last request matching
// more than it sends.
var errTooManyResults = errors.New("history: direct get matched too many subjects")

// lastMsgs gets the last message of each subject (no wildcards) from stream
// with direct gets (the stream must allow them), up to maxMultiLast subjects
// a request, the requests in flight together; fn gets each message found,
// one at a time. Subjects with no message are skipped.
func lastMsgs(ctx context.Context, nc *nats.Conn, apiPrefix, stream string, subjects []string, fn func(subj string, seq uint64, data []byte)) error {
	if len(subjects) == 0 {
		return nil
	}
	type answer struct {
		msgs []*nats.Msg
		err  error
	}
	n := (len(subjects) + maxMultiLast - 1) / maxMultiLast
	answers := make(chan answer, n)
	for i := 0; i < len(subjects); i += maxMultiLast {
		chunk := subjects[i:min(i+maxMultiLast, len(subjects))]
		go func() {
			msgs, err := multiLast(ctx, nc, apiPrefix, stream, chunk)
			answers <- answer{msgs, err}
		}()
	}
	var first error
	for range n {
		a := <-answers
		if a.err != nil {
			first = cmpErr(first, a.err)
			continue
		}
		if first != nil {
			continue
		}
		for _, m := range a.msgs {
			seq, _ := strconv.ParseUint(m.Header.Get(nats.JSSequence), 10, 64)
			fn(m.Header.Get(nats.JSSubject), seq, m.Data)
		}
	}
	return first
}

func cmpErr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

// multiLast is one direct get request of the last messages of subjects.
func multiLast(ctx context.Context, nc *nats.Conn, apiPrefix, stream string, subjects []string) ([]*nats.Msg, error) {
	req, err := json.Marshal(struct {
		MultiLast []string `json:"multi_last"`
		Batch     int      `json:"batch"`
	}{subjects, len(subjects)})
	if err != nil {
		return nil, err
	}
	inbox := nc.NewInbox()
	sub, err := nc.SubscribeSync(inbox)
	if err != nil {
		return nil, err
	}
	defer sub.Unsubscribe()
	if err := nc.PublishRequest(apiPrefix+"DIRECT.GET."+stream, inbox, req); err != nil {
		return nil, err
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
	}
	msgs := make([]*nats.Msg, 0, len(subjects))
	for {
		m, err := sub.NextMsgWithContext(ctx)
		if err != nil {
			return nil, fmt.Errorf("history: direct get from %s: %w", stream, err)
		}
		switch status := m.Header.Get("Status"); status {
		case "":
			msgs = append(msgs, m)
		case "204": // end of batch
			return msgs, nil
		case "404": // none of the subjects has a message
			return msgs, nil
		case "413":
			return nil, errTooManyResults
		default:
			return nil, fmt.Errorf("history: direct get from %s: %s %s", stream, status, m.Header.Get("Description"))
		}
	}
}
