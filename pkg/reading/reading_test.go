package reading

import (
	"math"
	"testing"
	"time"
)

func TestWireFormat(t *testing.T) {
	at := time.Date(2026, 11, 26, 2, 3, 4, 456_789_000, time.FixedZone("CET", 3600))
	got, err := New("sim-1", 23.4, at).MarshalData()
	if err != nil {
		t.Fatal(err)
	}
	want := `{"data":"23.40","celsius":23.4,"sensor":"sim-1","at":"2026-11-26T01:03:04.456Z"}`
	if string(got) != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
}

func TestCelsiusRoundedLikeData(t *testing.T) {
	r := New("s", 21.006, time.Unix(0, 0))
	if r.Data != "21.01" || r.Celsius != 21.01 {
		t.Fatalf("data %q celsius %v", r.Data, r.Celsius)
	}
}

func TestNonFiniteIsAnErrorNotAPanic(t *testing.T) {
	if _, err := New("s", math.NaN(), time.Unix(0, 0)).MarshalData(); err == nil {
		t.Fatal("NaN marshalled")
	}
}

func TestNoNegativeZero(t *testing.T) {
	r := New("s", -0.004, time.Unix(0, 0))
	if r.Data != "0.00" || math.Signbit(r.Celsius) {
		t.Fatalf("data %q celsius %v", r.Data, r.Celsius)
	}
}
