// Package reading holds the wire form of a temperature reading: the JSON data
// of every "temperature" event.
//
//	{"data":"23.45","celsius":23.45,"sensor":"sim-1","at":"2026-11-26T01:02:03.456Z"}
//
// "data" is the reading as a string with two decimals, as the original
// Flask-SocketIO demo sent it; "celsius" is the same value as a number; "at"
// is when it was taken, RFC 3339 in UTC with milliseconds.
package reading

import (
	"encoding/json"
	"math"
	"strconv"
	"time"
)

// EventType is the SSE event type of a reading.
const EventType = "temperature"

// TimeFormat is the layout of "at": RFC 3339, UTC, milliseconds.
const TimeFormat = "2006-01-02T15:04:05.000Z07:00"

// Reading is one temperature reading as it travels in an event's data.
type Reading struct {
	Data    string  `json:"data"`
	Celsius float64 `json:"celsius"`
	Sensor  string  `json:"sensor"`
	At      string  `json:"at"`
}

// New returns the reading of sensor at time at, in degrees Celsius rounded
// to two decimals.
func New(sensor string, celsius float64, at time.Time) Reading {
	celsius = math.Round(celsius*100)/100 + 0 // + 0: no "-0.00"
	return Reading{
		Data:    strconv.FormatFloat(celsius, 'f', 2, 64),
		Celsius: celsius,
		Sensor:  sensor,
		At:      at.UTC().Format(TimeFormat),
	}
}

// MarshalData returns the reading as one line of JSON. It fails only for a
// Celsius that is not a finite number.
func (r Reading) MarshalData() ([]byte, error) {
	return json.Marshal(r)
}
