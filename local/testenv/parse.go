package testenv

import (
	"errors"
	"reflect"
	"testing"
)

// ParseCase is one input of a parser's table test and what the parser must
// make of it: Want, or a refusal when WantErr.
type ParseCase[T any] struct {
	Name    string
	In      string
	Want    T
	WantErr bool
}

// CheckParse runs parse on every case as a subtest. Only the cases that
// want a refusal may be refused, and a refusal must wrap refusal when that
// is set; an accepted input must give Want as equal compares them (nil:
// reflect.DeepEqual).
func CheckParse[T any](t *testing.T, parse func(string) (T, error), equal func(got, want T) bool, refusal error, cases []ParseCase[T]) {
	t.Helper()
	if equal == nil {
		equal = func(got, want T) bool { return reflect.DeepEqual(got, want) }
	}
	for _, c := range cases {
		t.Run(c.Name, func(t *testing.T) {
			got, err := parse(c.In)
			switch {
			case c.WantErr && (err == nil || refusal != nil && !errors.Is(err, refusal)):
				t.Fatalf("parse(%q) = %v, %v; want a refusal (%v)", c.In, got, err, refusal)
			case !c.WantErr && (err != nil || !equal(got, c.Want)):
				t.Fatalf("parse(%q) = %v, %v; want %v", c.In, got, err, c.Want)
			}
		})
	}
}
