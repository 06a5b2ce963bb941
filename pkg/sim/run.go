package sim

import (
	"context"
	"time"
)

// Run calls emit(s.Next(t)) for every t received from ticks, until ctx is
// done or ticks is closed, and then returns. A tick that arrives after ctx
// is done is dropped.
//
// Run starts no goroutine of its own: it runs on, and blocks, the caller's
// goroutine, and emit is called synchronously on it, so a slow emit delays
// the next tick (time.Ticker drops ticks for slow receivers). While Run is
// active no other goroutine may use s. Tests drive Run with their own
// channel; production passes time.NewTicker(interval).C.
func (s *Simulator) Run(ctx context.Context, ticks <-chan time.Time, emit func(Reading)) {
	Group{s}.Run(ctx, ticks, func(rs []Reading) { emit(rs[0]) })
}
