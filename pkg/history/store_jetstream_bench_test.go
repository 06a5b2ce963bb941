package history

import (
	"context"
	"testing"
	"time"

	"github.com/tempstream/tempstream/pkg/reading"
)

// BenchmarkJetStreamQuery: a day of one sensor, a reading a second, built
// into summaries on an embedded JetStream; then the day by minute (1,440
// buckets in 25 blocks) and the day by hour. bench/history measures a week
// of ten sensors, restarts and memory.
func BenchmarkJetStreamQuery(b *testing.B) {
	srv := startJS(b, "")
	_, js := srv.conn(b)
	createReadings(b, js, 0)
	end := time.Now().Truncate(time.Second)
	rs := make([]reading.Reading, 86_400)
	for i := range rs {
		rs[i] = reading.New("lab-1", 20+float64(i%1000)/100, end.Add(time.Duration(i-len(rs))*time.Second))
	}
	last := publish(b, js, rs)
	s := openTestStore(b, js, JetStreamOptions{}, nil)
	waitSynced(b, s, last, time.Minute)
	for _, q := range []struct {
		name string
		g    Granularity
		n    int
	}{{"24h-by-minute", Minute, 1440}, {"24h-by-hour", Hour, 24}} {
		b.Run(q.name, func(b *testing.B) {
			for b.Loop() {
				got, err := s.Summaries(context.Background(), "lab-1", q.g, end.Add(-24*time.Hour), end)
				if err != nil || len(got) < q.n-1 {
					b.Fatalf("%d buckets, %v", len(got), err)
				}
			}
		})
	}
}
