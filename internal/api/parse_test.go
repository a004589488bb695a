package api

import (
	"errors"
	"math"
	"strconv"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/wdm-knative/webshop/local/testenv"
)

// named is a parser of the path value called "amount".
func named[T any](parse func(name, s string) (T, error)) func(string) (T, error) {
	return func(s string) (T, error) { return parse("amount", s) }
}

func TestParseAmount(t *testing.T) {
	testenv.CheckParse(t, named(ParseAmount), nil, ErrBadRequest, []testenv.ParseCase[int64]{
		{Name: "zero", In: "0", Want: 0},
		{Name: "plain", In: "42", Want: 42},
		{Name: "leading zeros", In: "007", Want: 7},
		{Name: "max int64", In: "9223372036854775807", Want: math.MaxInt64},
		{Name: "past int64", In: "9223372036854775808", WantErr: true},
		{Name: "far past int64", In: "99999999999999999999999", WantErr: true},
		{Name: "empty", In: "", WantErr: true},
		{Name: "negative", In: "-1", WantErr: true},
		{Name: "plus sign", In: "+5", WantErr: true},
		{Name: "leading space", In: " 5", WantErr: true},
		{Name: "trailing junk", In: "5x", WantErr: true},
		{Name: "leading junk", In: "x5", WantErr: true},
		{Name: "hex", In: "0x10", WantErr: true},
		{Name: "float", In: "1.5", WantErr: true},
		{Name: "exponent", In: "1e3", WantErr: true},
		{Name: "underscore", In: "1_000", WantErr: true},
		{Name: "unicode digit", In: "٣", WantErr: true},
	})
}

func TestParsePositive(t *testing.T) {
	testenv.CheckParse(t, named(ParsePositive), nil, ErrBadRequest, []testenv.ParseCase[int64]{
		{Name: "one", In: "1", Want: 1},
		{Name: "zero", In: "0", WantErr: true},
		{Name: "zeros", In: "000", WantErr: true},
		{Name: "negative", In: "-3", WantErr: true},
	})
}

func TestParseID(t *testing.T) {
	testenv.CheckParse(t, named(ParseID), nil, ErrBadRequest, []testenv.ParseCase[string]{
		{Name: "digits", In: "0", Want: "0"},
		{Name: "uuid", In: "6f1c2b1e-3d7a-4c55-9a44-1f0e2d3c4b5a", Want: "6f1c2b1e-3d7a-4c55-9a44-1f0e2d3c4b5a"},
		{Name: "unicode", In: "café-ü", Want: "café-ü"},
		{Name: "slash (escaped in the path)", In: "a/b", Want: "a/b"},
		{Name: "exactly 128 bytes", In: strings.Repeat("a", 128), Want: strings.Repeat("a", 128)},
		{Name: "129 bytes", In: strings.Repeat("a", 129), WantErr: true},
		{Name: "128 bytes of 2-byte runes plus one", In: strings.Repeat("é", 64) + "a", WantErr: true},
		{Name: "empty", In: "", WantErr: true},
		{Name: "NUL", In: "a\x00b", WantErr: true},
		{Name: "newline", In: "a\nb", WantErr: true},
		{Name: "tab", In: "\t", WantErr: true},
		{Name: "DEL", In: "a\x7f", WantErr: true},
		{Name: "C1 control", In: "a\u0085", WantErr: true},
		{Name: "invalid UTF-8", In: "a\xffb", WantErr: true},
	})
}

// FuzzParseAmount checks that whatever ParseAmount accepts is plain digits
// with the value strconv gives, and that it never accepts a sign or junk.
// Seeds run in every `go test`; `go test -fuzz=FuzzParseAmount` explores.
func FuzzParseAmount(f *testing.F) {
	for _, s := range []string{"0", "1", "007", "9223372036854775807", "9223372036854775808",
		"-1", "+1", " 1", "1 ", "0x1f", "1e9", "1_0", "", "١", "18446744073709551616"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := ParseAmount("amount", s)
		if err != nil {
			if !errors.Is(err, ErrBadRequest) {
				t.Fatalf("ParseAmount(%q): error %v is not ErrBadRequest", s, err)
			}
			return
		}
		if v < 0 {
			t.Fatalf("ParseAmount(%q) = %d: negative", s, v)
		}
		if strings.TrimLeft(s, "0123456789") != "" {
			t.Fatalf("ParseAmount(%q) accepted a non-digit", s)
		}
		if want, _ := strconv.ParseInt(s, 10, 64); want != v {
			t.Fatalf("ParseAmount(%q) = %d, strconv says %d", s, v, want)
		}
		if p, err := ParsePositive("amount", s); (err == nil) != (v > 0) || (err == nil && p != v) {
			t.Fatalf("ParsePositive(%q) = %d, %v; ParseAmount gave %d", s, p, err, v)
		}
	})
}

// FuzzParseID checks that every accepted ID is something Postgres text and
// the API's limits take.
func FuzzParseID(f *testing.F) {
	for _, s := range []string{"0", "abc", "a/b", "é", "", "a\x00", "\n", "\xff", "\u2028", strings.Repeat("x", 129)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := ParseID("id", s)
		if err != nil {
			if !errors.Is(err, ErrBadRequest) {
				t.Fatalf("ParseID(%q): error %v is not ErrBadRequest", s, err)
			}
			return
		}
		switch {
		case got != s:
			t.Fatalf("ParseID(%q) changed the ID to %q", s, got)
		case s == "" || len(s) > MaxIDBytes:
			t.Fatalf("ParseID(%q) accepted a bad length %d", s, len(s))
		case !utf8.ValidString(s):
			t.Fatalf("ParseID(%q) accepted invalid UTF-8", s)
		case strings.ContainsFunc(s, unicode.IsControl):
			t.Fatalf("ParseID(%q) accepted a control character", s)
		}
	})
}
