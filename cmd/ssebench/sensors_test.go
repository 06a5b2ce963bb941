package main

import (
	"io"
	"strings"
	"testing"
)

func TestSensorPatternAndFilter(t *testing.T) {
	for _, p := range []string{"s", "S-%d", "s-%d-%d", "s-%s", "s-%x", "%%d", "-%d"} {
		if err := checkSensorPattern(p, 10); err == nil {
			t.Errorf("%q: no error", p)
		}
	}
	if err := checkSensorPattern("lab.%d", 1000); err != nil {
		t.Fatal(err)
	}
	if got := sensorName("s-%d", 17); got != "s-17" {
		t.Fatalf("sensorName = %q", got)
	}
	if followed(1017, 1000) != 17 || followed(5, 0) != -1 {
		t.Fatal("followed")
	}
	if got := withSensor("/events", "s-1"); got != "/events?sensor=s-1" {
		t.Fatalf("withSensor = %q", got)
	}
	if got := withSensor("/events?stream=temperature", "s-1"); got != "/events?stream=temperature&sensor=s-1" {
		t.Fatalf("withSensor = %q", got)
	}
	c, err := parseFlags([]string{"-sensors", "1000"}, io.Discard)
	if err != nil || c.Sensors != 1000 || c.SensorPattern != "s-%d" {
		t.Fatalf("%+v %v", c, err)
	}
	for _, args := range [][]string{{"-sensors", "-1"}, {"-sensor-pattern", "x"}} {
		if _, err := parseFlags(args, io.Discard); err == nil {
			t.Errorf("%v: no error", args)
		}
	}
	tg, _, _ := parseTarget("http://127.0.0.1:5000/events", false)
	if got := string(tg.requestPath(withSensor(tg.path, "s-3"), nil)); !strings.HasPrefix(got, "GET /events?sensor=s-3 HTTP/1.1\r\n") {
		t.Fatalf("request %q", got)
	}
}
