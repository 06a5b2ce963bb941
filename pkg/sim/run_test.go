package sim

import (
	"context"
	"testing"
	"time"
)

// runTimeout bounds how long a test waits for Run to return.
const runTimeout = 5 * time.Second

func TestRunEmitsOneReadingPerTickUntilClosed(t *testing.T) {
	s := mustNew(t, Config{Seed: 9})
	want := celsius(mustNew(t, Config{Seed: 9}), 5)

	zone := time.FixedZone("UTC-7", -7*3600)
	times := make([]time.Time, 5)
	for i := range times {
		times[i] = time.Date(2024, 6, 1, 12, 0, i, 0, zone)
	}

	ticks := make(chan time.Time)
	var got []Reading // written only by the Run goroutine until done is closed
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.Run(context.Background(), ticks, func(r Reading) { got = append(got, r) })
	}()
	for _, tm := range times {
		select {
		case ticks <- tm:
		case <-done:
			t.Fatal("Run returned before the channel was closed")
		case <-time.After(runTimeout):
			t.Fatal("Run did not accept a tick")
		}
	}
	close(ticks)
	select {
	case <-done:
	case <-time.After(runTimeout):
		t.Fatal("Run did not return after ticks was closed")
	}

	if len(got) != len(times) {
		t.Fatalf("got %d readings; want %d", len(got), len(times))
	}
	for i, r := range got {
		if !r.At.Equal(times[i]) || r.At.Location() != time.UTC {
			t.Errorf("reading %d At = %v; want %v", i, r.At, times[i].UTC())
		}
		if r.Celsius != want[i] || r.Sensor != "sim-1" {
			t.Errorf("reading %d = %+v; want sim-1 %v", i, r, want[i])
		}
	}
}

func TestRunReturnsWhenContextCancelled(t *testing.T) {
	s := mustNew(t, Config{})
	ctx, cancel := context.WithCancel(context.Background())
	ticks := make(chan time.Time) // never closed
	emitted := make(chan Reading, 1)
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.Run(ctx, ticks, func(r Reading) { emitted <- r })
	}()

	// One tick goes through while the context is live.
	select {
	case ticks <- epoch:
	case <-time.After(runTimeout):
		t.Fatal("Run did not accept a tick")
	}
	select {
	case r := <-emitted:
		if !r.At.Equal(epoch) {
			t.Errorf("At = %v; want %v", r.At, epoch)
		}
	case <-time.After(runTimeout):
		t.Fatal("Run did not emit")
	}

	cancel()
	select {
	case <-done:
	case <-time.After(runTimeout):
		t.Fatal("Run did not return after ctx was cancelled")
	}
}

func TestRunWithCancelledContextEmitsNothing(t *testing.T) {
	s := mustNew(t, Config{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	ticks := make(chan time.Time, 3)
	for range 3 {
		ticks <- epoch
	}
	n := 0
	s.Run(ctx, ticks, func(Reading) { n++ }) // must return without blocking
	if n != 0 {
		t.Errorf("emitted %d readings after ctx was done; want 0", n)
	}
}
