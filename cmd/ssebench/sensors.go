package main

import (
	"fmt"
	"net/url"
	"strings"

	"github.com/tempstream/tempstream/pkg/reading"
)

// sensorName is sensor i's ID after --sensor-pattern ("s-%d" gives s-0,
// s-1, …), shared by the subscribers' ?sensor= filters and the poster.
func sensorName(pattern string, i int) string { return fmt.Sprintf(pattern, i) }

// checkSensorPattern makes sure the pattern gives a distinct, valid sensor
// ID for each index below n: one integer verb, and only the characters
// tempstream accepts in a sensor ID.
func checkSensorPattern(pattern string, n int) error {
	if strings.Count(pattern, "%") != 1 || !strings.Contains(pattern, "%d") {
		return fmt.Errorf("%w: --sensor-pattern %q: want one %%d, like s-%%d", errUsage, pattern)
	}
	for _, i := range []int{0, max(n-1, 0)} {
		if id := sensorName(pattern, i); !reading.ValidSensor(id) {
			return fmt.Errorf("%w: --sensor-pattern %q gives %q, which does not match %s", errUsage, pattern, id, reading.SensorPattern)
		}
	}
	return nil
}

// followed is the sensor subscriber idx follows with --sensors n: idx mod
// n, or -1 (every sensor: no filter) when n is 0.
func followed(idx, n int) int {
	if n <= 0 {
		return -1
	}
	return idx % n
}

// withSensor adds ?sensor=<id> (or &sensor=<id>) to a request path.
func withSensor(path, id string) string {
	sep := "?"
	if strings.Contains(path, "?") {
		sep = "&"
	}
	return path + sep + "sensor=" + url.QueryEscape(id)
}
