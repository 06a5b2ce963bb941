package reading

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

var now = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)

func TestDecodeAccepts(t *testing.T) {
	rs, err := Decode([]byte(` {"sensor":"lab-1","celsius":21.5,"at":"2026-11-26T11:59:00.5Z"} `), now)
	if err != nil || len(rs) != 1 {
		t.Fatalf("%v %v", rs, err)
	}
	if rs[0] != (Reading{Data: "21.50", Celsius: 21.5, Sensor: "lab-1", At: "2026-11-26T11:59:00.500Z"}) {
		t.Fatalf("got %+v", rs[0])
	}
	rs, err = Decode([]byte(`[{"sensor":"a","celsius":-273.15},{"sensor":"b.c_d-9","celsius":10000,"at":"2026-11-26T13:00:59+01:00"}]`), now)
	if err != nil || len(rs) != 2 {
		t.Fatalf("%v %v", rs, err)
	}
	if rs[0].At != "2026-11-26T12:00:00.000Z" || rs[1].At != "2026-11-26T12:00:59.000Z" {
		t.Fatalf("times: %q %q (no at = now; offsets become UTC)", rs[0].At, rs[1].At)
	}
	batch := "[" + strings.TrimSuffix(strings.Repeat(`{"sensor":"s","celsius":1},`, MaxBatch), ",") + "]"
	if rs, err := Decode([]byte(batch), now); err != nil || len(rs) != MaxBatch {
		t.Fatalf("full batch: %d %v", len(rs), err)
	}
}

func TestDecodeRefusesWithTheFieldNamed(t *testing.T) {
	long := strings.Repeat("a", 65)
	tooMany := "[" + strings.TrimSuffix(strings.Repeat(`{"sensor":"s","celsius":1},`, MaxBatch+1), ",") + "]"
	for _, tc := range []struct{ body, field, problem string }{
		{``, "", "empty body"},
		{`   `, "", "empty body"},
		{`"x"`, "", "JSON object or an array"},
		{`{"sensor":"a","celsius":1`, "", "malformed JSON"},
		{`{"sensor":"a",}`, "", "malformed JSON"},
		{`{"sensor":"a","celsius":1}{}`, "", "trailing data"},
		{`{"sensor":"a","celsius":1} x`, "", "trailing data"},
		{`{"sensor":"a","celsius":1,"unit":"F"}`, "unit", "unknown field"},
		{`{"celsius":1}`, "sensor", "required"},
		{`{"sensor":null,"celsius":1}`, "sensor", "required"},
		{`{"sensor":"Lab","celsius":1}`, "sensor", "must match"},
		{`{"sensor":"-a","celsius":1}`, "sensor", "must match"},
		{`{"sensor":"` + long + `","celsius":1}`, "sensor", "must match"},
		{`{"sensor":"a\nb","celsius":1}`, "sensor", "must match"},
		{`{"sensor":5,"celsius":1}`, "sensor", "must be a string"},
		{`{"sensor":"a"}`, "celsius", "required"},
		{`{"sensor":"a","celsius":"21"}`, "celsius", "must be a number"},
		{`{"sensor":"a","celsius":-273.16}`, "celsius", "from -273.15 to 10000"},
		{`{"sensor":"a","celsius":10000.01}`, "celsius", "from -273.15 to 10000"},
		{`{"sensor":"a","celsius":1e400}`, "celsius", "out of range"},
		{`{"SENSOR":"a","celsius":1}`, "SENSOR", "unknown field"},
		{`{"sensor":"a","Celsius":1}`, "Celsius", "unknown field"},
		{`{"sensor":"a","celsius":1,"sensor":"b"}`, "sensor", "given twice"},
		{`[{"sensor":"a","celsius":1,"at":"2026-11-26T12:00:00Z","at":"2026-11-26T12:00:00Z"}]`, "[0].at", "given twice"},
		{`{"sensor":"a","celsius":1,"at":"yesterday"}`, "at", "RFC 3339"},
		{`{"sensor":"a","celsius":1,"at":"2026-11-26T12:01:01Z"}`, "at", "future"},
		{`[]`, "", "empty batch"},
		{tooMany, "", "at most 1000"},
		{`[{"sensor":"a","celsius":1},{"sensor":"a"}]`, "[1].celsius", "required"},
		{`[{"sensor":"a","celsius":1},7]`, "[1]", "JSON object"},
		{`[{"sensor":"a","celsius":1,"x":1}]`, "[0].x", "unknown field"},
		{`[{"sensor":"a","celsius":1}] []`, "", "trailing data"},
	} {
		t.Run(fmt.Sprintf("%.40s", tc.body), func(t *testing.T) {
			rs, err := Decode([]byte(tc.body), now)
			var fe *FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("got %v, %v; want a FieldError", rs, err)
			}
			if rs != nil {
				t.Fatalf("returned readings with an error: %v", rs)
			}
			if fe.Field != tc.field || !strings.Contains(fe.Problem, tc.problem) {
				t.Fatalf("got field %q problem %q; want field %q problem containing %q", fe.Field, fe.Problem, tc.field, tc.problem)
			}
		})
	}
}

// FuzzDecode: any body either decodes to valid readings or is refused with a
// FieldError; nothing panics, and every accepted reading would encode into
// one line of JSON.
func FuzzDecode(f *testing.F) {
	f.Add([]byte(`{"sensor":"lab-1","celsius":21.5,"at":"2026-11-26T11:59:00.5Z"}`))
	f.Add([]byte(`[{"sensor":"a","celsius":1},{"sensor":"b","celsius":2}]`))
	f.Add([]byte(`{"sensor":"a","celsius":1e400}`))
	f.Add([]byte(`[{"sensor":"a\u0000","celsius":1}]`))
	f.Add([]byte(`{"sensor":"a","celsius":1,"at":"2026-11-26T12:00:00+14:00"}`))
	f.Add([]byte(`{"Sensor":"a","celsius":1}`))
	f.Add([]byte(`{"sensor":"a","celsius":1,"sensor":"b"}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		rs, err := Decode(body, now)
		if err != nil {
			var fe *FieldError
			if !errors.As(err, &fe) || rs != nil {
				t.Fatalf("error %v (%T) with readings %v", err, err, rs)
			}
			return
		}
		if len(rs) == 0 || len(rs) > MaxBatch {
			t.Fatalf("%d readings accepted", len(rs))
		}
		for _, r := range rs {
			if !ValidSensor(r.Sensor) || r.Celsius < MinCelsius || r.Celsius > MaxCelsius {
				t.Fatalf("invalid reading accepted: %+v", r)
			}
			at, err := time.Parse(TimeFormat, r.At)
			if err != nil || at.After(now.Add(MaxFuture)) {
				t.Fatalf("bad time accepted: %q", r.At)
			}
			data, err := r.MarshalData()
			if err != nil || strings.ContainsAny(string(data), "\r\n\x00") {
				t.Fatalf("reading does not encode to one clean line: %q %v", data, err)
			}
		}
	})
}
