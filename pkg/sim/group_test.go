package sim

import (
	"context"
	"testing"
	"time"
)

func TestGroupEachSensorWalksOnItsOwn(t *testing.T) {
	g, err := NewGroup(Config{Seed: 7}, "a", "b", "c")
	if err != nil {
		t.Fatal(err)
	}
	again, _ := NewGroup(Config{Seed: 7}, "a", "b", "c")
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	differ := false
	for i := range 50 {
		rs, rs2 := g.Next(at), again.Next(at)
		if len(rs) != 3 || rs[0].Sensor != "a" || rs[1].Sensor != "b" || rs[2].Sensor != "c" {
			t.Fatalf("tick %d: %+v", i, rs)
		}
		for k := range rs {
			if rs[k] != rs2[k] {
				t.Fatalf("not deterministic: %+v vs %+v", rs[k], rs2[k])
			}
		}
		differ = differ || rs[0].Celsius != rs[1].Celsius
		at = at.Add(time.Second)
	}
	if !differ {
		t.Fatal("sensors a and b gave identical walks")
	}
	if _, err := NewGroup(Config{Min: 5, Max: 1}, "a"); err == nil {
		t.Fatal("bad range accepted")
	}
}

func TestGroupRunStopsWhenTicksClose(t *testing.T) {
	g, _ := NewGroup(Config{Seed: 1}, "a", "b")
	ticks := make(chan time.Time, 3)
	for range 3 {
		ticks <- time.Now()
	}
	close(ticks)
	n := 0
	done := make(chan struct{})
	go func() {
		defer close(done)
		g.Run(context.Background(), ticks, func(rs []Reading) { n += len(rs) })
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after ticks closed")
	}
	if n != 6 {
		t.Fatalf("%d readings, want 6", n)
	}
}
