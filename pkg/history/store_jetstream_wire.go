package history

// The JetStream store's wire: subjects of the history stream, the stored
// form of a bucket and of the checkpoint, the readings' data, and batched
// direct gets.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
)

// granToken is a granularity's token in a bucket's subject.
func granToken(g Granularity) string {
	if g == Hour {
		return "h"
	}
	return "m"
}

// bucketSubject is where the bucket of sensor at g starting at start is
// kept: <prefix>.<m|h>.<sensor>.<start, Unix seconds>. The sensor is the
// readings subject's last tokens as they are (it may hold dots): a filter
// <prefix>.m.<sensor>.* still matches only that sensor's buckets, since the
// last token is always the start.
func bucketSubject(prefix string, g Granularity, sensor string, start time.Time) string {
	return prefix + "." + granToken(g) + "." + sensor + "." + strconv.FormatInt(start.Unix(), 10)
}

// startOfSubject reads the start of a bucket from its subject.
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

// storedBucket is a bucket as kept in the history stream. It holds exactly
// the readings of its bucket whose sequence number in the readings stream
// (of creation time Epoch) is at most UpTo: whoever writes it knows every
// reading of the bucket up to UpTo, and a writer merges into it only readings
// past UpTo, so none is counted twice.
type storedBucket struct {
	Min   float64 `json:"min"`
	Max   float64 `json:"max"`
	Sum   float64 `json:"sum"`
	Count int64   `json:"n"`
	UpTo  uint64  `json:"upTo"`
	Epoch int64   `json:"ep"` // the readings stream's creation time, Unix ns
}

func (b *storedBucket) add(c float64) {
	if b.Count == 0 {
		b.Min, b.Max = c, c
	} else {
		b.Min, b.Max = min(b.Min, c), max(b.Max, c)
	}
	b.Sum += c
	b.Count++
}

func (b storedBucket) encode() []byte {
	out := make([]byte, 0, 96)
	out = append(out, `{"min":`...)
	out = strconv.AppendFloat(out, b.Min, 'g', -1, 64)
	out = append(out, `,"max":`...)
	out = strconv.AppendFloat(out, b.Max, 'g', -1, 64)
	out = append(out, `,"sum":`...)
	out = strconv.AppendFloat(out, b.Sum, 'g', -1, 64)
	out = append(out, `,"n":`...)
	out = strconv.AppendInt(out, b.Count, 10)
	out = append(out, `,"upTo":`...)
	out = strconv.AppendUint(out, b.UpTo, 10)
	out = append(out, `,"ep":`...)
	out = strconv.AppendInt(out, b.Epoch, 10)
	return append(out, '}')
}

func decodeBucket(data []byte) (storedBucket, error) {
	var b storedBucket
	err := json.Unmarshal(data, &b)
	return b, err
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
