package reading

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"reflect"
	"regexp"
	"strings"
	"time"
)

// Limits of what an ingest request may carry.
const (
	MaxBatch   = 1000
	MinCelsius = -273.15
	MaxCelsius = 10000
	// MaxFuture is how far ahead of the server's clock "at" may be.
	MaxFuture = time.Minute
)

// SensorPattern is what a sensor ID must match.
const SensorPattern = `^[a-z0-9][a-z0-9._-]{0,63}$`

var sensorRE = regexp.MustCompile(SensorPattern)

// ValidSensor reports whether id is a valid sensor ID.
func ValidSensor(id string) bool { return sensorRE.MatchString(id) }

// FieldError is a problem with one field of a request, or with the whole
// body when Field is empty.
type FieldError struct {
	Field   string
	Problem string
}

func (e *FieldError) Error() string {
	if e.Field == "" {
		return e.Problem
	}
	return e.Field + ": " + e.Problem
}

// input is one reading as a sensor sends it.
type input struct {
	Sensor  *string  `json:"sensor"`
	Celsius *float64 `json:"celsius"`
	At      *string  `json:"at"`
}

// Decode reads an ingest body: one reading {"sensor","celsius","at"} or a
// JSON array of 1 to MaxBatch of them. "at" is optional (now when absent).
// It returns every reading, or a *FieldError for the first problem and no
// readings at all: a batch is accepted whole or not at all.
func Decode(body []byte, now time.Time) ([]Reading, error) {
	body = bytes.TrimSpace(body)
	switch {
	case len(body) == 0:
		return nil, &FieldError{Problem: "empty body: send a JSON object or an array of objects"}
	case body[0] == '{':
		r, err := decodeOne(body, "", now)
		if err != nil {
			return nil, err
		}
		return []Reading{r}, nil
	case body[0] == '[':
		var raws []json.RawMessage
		if err := decodeStrict(body, &raws, ""); err != nil {
			return nil, err
		}
		if len(raws) == 0 {
			return nil, &FieldError{Problem: "empty batch: send 1 to 1000 readings"}
		}
		if len(raws) > MaxBatch {
			return nil, &FieldError{Problem: fmt.Sprintf("batch of %d readings: at most %d", len(raws), MaxBatch)}
		}
		out := make([]Reading, len(raws))
		for i, raw := range raws {
			field := fmt.Sprintf("[%d]", i)
			raw = bytes.TrimSpace(raw)
			if len(raw) == 0 || raw[0] != '{' {
				return nil, &FieldError{Field: field, Problem: "must be a JSON object"}
			}
			r, err := decodeOne(raw, field, now)
			if err != nil {
				return nil, err
			}
			out[i] = r
		}
		return out, nil
	default:
		return nil, &FieldError{Problem: "body must be a JSON object or an array of objects"}
	}
}

// decodeStrict decodes exactly one JSON value into v, refusing unknown
// fields and trailing data.
func decodeStrict(b []byte, v any, prefix string) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonError(err, prefix)
	}
	if _, err := dec.Token(); err != io.EOF {
		return &FieldError{Field: prefix, Problem: "trailing data after the JSON value"}
	}
	return nil
}

func jsonError(err error, prefix string) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	join := func(f string) string {
		if prefix == "" {
			return f
		}
		if f == "" {
			return prefix
		}
		return prefix + "." + f
	}
	switch {
	case errors.As(err, &syn):
		return &FieldError{Field: prefix, Problem: fmt.Sprintf("malformed JSON at byte %d: %s", syn.Offset, syn.Error())}
	case errors.As(err, &typ):
		if n, ok := strings.CutPrefix(typ.Value, "number "); ok && typ.Type.Kind() == reflect.Float64 {
			return &FieldError{Field: join(typ.Field), Problem: fmt.Sprintf("the number %.20s is out of range", n)}
		}
		return &FieldError{Field: join(typ.Field), Problem: fmt.Sprintf("must be a %s, not a JSON %s", jsonKind(typ.Type.Kind().String()), typ.Value)}
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return &FieldError{Field: prefix, Problem: "malformed JSON: unexpected end"}
	}
	if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		return &FieldError{Field: join(strings.Trim(name, `"`)), Problem: "unknown field"}
	}
	return &FieldError{Field: prefix, Problem: "malformed JSON: " + err.Error()}
}

func jsonKind(k string) string {
	switch k {
	case "float64":
		return "number"
	case "ptr", "string":
		return "string"
	case "slice":
		return "array"
	}
	return k
}

// checkKeys refuses an object with a key other than "sensor", "celsius" and
// "at" written exactly so (encoding/json would match "SENSOR" too), or with a
// key given twice (encoding/json would keep the last).
func checkKeys(b []byte, field func(string) string) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	if _, err := dec.Token(); err != nil { // {
		return nil // decodeStrict reports it
	}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil
		}
		key, _ := tok.(string)
		switch {
		case key != "sensor" && key != "celsius" && key != "at":
			return &FieldError{Field: field(key), Problem: "unknown field (fields are sensor, celsius and at, in lower case)"}
		case seen[key]:
			return &FieldError{Field: field(key), Problem: "given twice"}
		}
		seen[key] = true
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return nil
		}
	}
	return nil
}

func decodeOne(b []byte, prefix string, now time.Time) (Reading, error) {
	field := func(f string) string {
		if prefix == "" {
			return f
		}
		return prefix + "." + f
	}
	var in input
	if err := decodeStrict(b, &in, prefix); err != nil {
		return Reading{}, err
	}
	if err := checkKeys(b, field); err != nil {
		return Reading{}, err
	}
	if in.Sensor == nil || *in.Sensor == "" {
		return Reading{}, &FieldError{Field: field("sensor"), Problem: "required"}
	}
	if !ValidSensor(*in.Sensor) {
		return Reading{}, &FieldError{Field: field("sensor"), Problem: "must match " + SensorPattern}
	}
	if in.Celsius == nil {
		return Reading{}, &FieldError{Field: field("celsius"), Problem: "required"}
	}
	c := *in.Celsius
	if math.IsNaN(c) || math.IsInf(c, 0) || c < MinCelsius || c > MaxCelsius {
		return Reading{}, &FieldError{Field: field("celsius"), Problem: fmt.Sprintf("must be a number from %v to %v", MinCelsius, MaxCelsius)}
	}
	at := now
	if in.At != nil {
		t, err := time.Parse(time.RFC3339Nano, *in.At)
		if err != nil {
			return Reading{}, &FieldError{Field: field("at"), Problem: "must be an RFC 3339 time, like 2026-11-26T01:02:03.456Z"}
		}
		if t.After(now.Add(MaxFuture)) {
			return Reading{}, &FieldError{Field: field("at"), Problem: "more than a minute in the future"}
		}
		at = t
	}
	return New(*in.Sensor, c, at), nil
}
