package sim

import (
	"errors"
	"strings"
	"testing"
)

func TestParseModel(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Model
	}{{"uniform", Uniform}, {"walk", Walk}} {
		got, err := ParseModel(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("ParseModel(%q) = %q, %v; want %q, nil", tc.in, got, err, tc.want)
		}
	}
	for _, in := range []string{"", "Walk", "gauss", " uniform"} {
		_, err := ParseModel(in)
		if !errors.Is(err, ErrUnknownModel) {
			t.Errorf("ParseModel(%q) error = %v; want ErrUnknownModel", in, err)
			continue
		}
		if in != "" && !strings.Contains(err.Error(), in) {
			t.Errorf("ParseModel(%q) error %q does not name the value", in, err)
		}
	}
}
