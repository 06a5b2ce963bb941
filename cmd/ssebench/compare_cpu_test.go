package main

import (
	"strings"
	"testing"
)

func TestCompareCPUTable(t *testing.T) {
	var b strings.Builder
	writeCompareCPU(&b, []*Results{
		{Label: "control", IdleHoldSeconds: 20, CPUPerEventUS: 4, FollowSensors: 0, Post: &PostResults{SteadyPerSec: 1}},
		{Label: "filtered", IdleHoldSeconds: 20, CPUPerEventUS: 40, FollowSensors: 1000, Post: &PostResults{SteadyPerSec: 1000}},
	})
	for _, want := range []string{"| control |", "every sensor", "1 of 1000", "**40.00** (10.00×)", "filtered / control: **10.00×**"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, b.String())
		}
	}
}
