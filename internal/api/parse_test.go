package api

import (
	"errors"
	"math"
	"strconv"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

// parseCase is one input of a parser's table: what it must give, or that
// it must refuse it.
type parseCase[T comparable] struct {
	name    string
	in      string
	want    T
	wantErr bool
}

// checkParse runs parse on every case: a refusal must be ErrBadRequest, and
// an accepted input must give the case's want.
func checkParse[T comparable](t *testing.T, parse func(name, s string) (T, error), cases []parseCase[T]) {
	t.Helper()
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parse("amount", tt.in)
			if tt.wantErr {
				if !errors.Is(err, ErrBadRequest) {
					t.Fatalf("parse(%q) = %v, %v; want ErrBadRequest", tt.in, got, err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("parse(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestParseAmount(t *testing.T) {
	checkParse(t, ParseAmount, []parseCase[int64]{
		{name: "zero", in: "0", want: 0},
		{name: "plain", in: "42", want: 42},
		{name: "leading zeros", in: "007", want: 7},
		{name: "max int64", in: "9223372036854775807", want: math.MaxInt64},
		{name: "past int64", in: "9223372036854775808", wantErr: true},
		{name: "far past int64", in: "99999999999999999999999", wantErr: true},
		{name: "empty", in: "", wantErr: true},
		{name: "negative", in: "-1", wantErr: true},
		{name: "plus sign", in: "+5", wantErr: true},
		{name: "leading space", in: " 5", wantErr: true},
		{name: "trailing junk", in: "5x", wantErr: true},
		{name: "leading junk", in: "x5", wantErr: true},
		{name: "hex", in: "0x10", wantErr: true},
		{name: "float", in: "1.5", wantErr: true},
		{name: "exponent", in: "1e3", wantErr: true},
		{name: "underscore", in: "1_000", wantErr: true},
		{name: "unicode digit", in: "٣", wantErr: true},
	})
}

func TestParsePositive(t *testing.T) {
	checkParse(t, ParsePositive, []parseCase[int64]{
		{name: "one", in: "1", want: 1},
		{name: "zero", in: "0", wantErr: true},
		{name: "zeros", in: "000", wantErr: true},
		{name: "negative", in: "-3", wantErr: true},
	})
}

func TestParseID(t *testing.T) {
	checkParse(t, ParseID, []parseCase[string]{
		{name: "digits", in: "0", want: "0"},
		{name: "uuid", in: "6f1c2b1e-3d7a-4c55-9a44-1f0e2d3c4b5a", want: "6f1c2b1e-3d7a-4c55-9a44-1f0e2d3c4b5a"},
		{name: "unicode", in: "café-ü", want: "café-ü"},
		{name: "slash (escaped in the path)", in: "a/b", want: "a/b"},
		{name: "exactly 128 bytes", in: strings.Repeat("a", 128), want: strings.Repeat("a", 128)},
		{name: "129 bytes", in: strings.Repeat("a", 129), wantErr: true},
		{name: "128 bytes of 2-byte runes plus one", in: strings.Repeat("é", 64) + "a", wantErr: true},
		{name: "empty", in: "", wantErr: true},
		{name: "NUL", in: "a\x00b", wantErr: true},
		{name: "newline", in: "a\nb", wantErr: true},
		{name: "tab", in: "\t", wantErr: true},
		{name: "DEL", in: "a\x7f", wantErr: true},
		{name: "C1 control", in: "a\u0085", wantErr: true},
		{name: "invalid UTF-8", in: "a\xffb", wantErr: true},
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
