package sim

import (
	"errors"
	"fmt"
)

// ErrUnknownModel is wrapped by errors for a model name that is not
// [Uniform] or [Walk].
var ErrUnknownModel = errors.New("sim: unknown model")

// Model selects how successive readings relate.
//
// Model is a plain string value and safe for concurrent use.
type Model string

const (
	// Uniform draws every reading independently and uniformly from
	// [Min, Max], like the original Flask demo's
	// round(random.uniform(20, 30), 2).
	Uniform Model = "uniform"

	// Walk, the default, is a bounded mean-reverting random walk
	// (Ornstein–Uhlenbeck-like): it starts in the middle of the range, moves
	// by small Gaussian steps, is pulled back toward the middle and is
	// reflected at Min and Max so it never leaves the range.
	Walk Model = "walk"
)

// ParseModel returns the Model named by s ("uniform" or "walk"). Any other
// value, including the empty string, yields an error wrapping
// [ErrUnknownModel] that names the value.
func ParseModel(s string) (Model, error) {
	switch m := Model(s); m {
	case Uniform, Walk:
		return m, nil
	default:
		return "", fmt.Errorf("%w %q (want %q or %q)", ErrUnknownModel, s, Uniform, Walk)
	}
}
