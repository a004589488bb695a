package api

import (
	"fmt"
	"net/http"
	"strconv"
	"unicode"
	"unicode/utf8"
)

// MaxIDBytes is the longest ID the API accepts (API.md).
const MaxIDBytes = 128

// ParseID checks an opaque ID: non-empty, at most MaxIDBytes bytes, valid
// UTF-8 (Postgres text refuses anything else) and free of control
// characters (a NUL would make Postgres fail, others poison logs).
func ParseID(name, s string) (string, error) {
	switch {
	case s == "":
		return "", fmt.Errorf("%w: %s is empty", ErrBadRequest, name)
	case len(s) > MaxIDBytes:
		return "", fmt.Errorf("%w: %s is longer than %d bytes", ErrBadRequest, name, MaxIDBytes)
	case !utf8.ValidString(s):
		return "", fmt.Errorf("%w: %s is not valid UTF-8", ErrBadRequest, name)
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return "", fmt.Errorf("%w: %s contains a control character", ErrBadRequest, name)
		}
	}
	return s, nil
}

// ParseAmount parses a non-negative int64 written as plain decimal digits.
// strconv alone would accept "+5" (and ParseInt "-5"); the API takes digits
// only, so "+5", " 5", "5x", "0x10", "1e3" and "1_000" are all refused, as is
// anything past int64.
func ParseAmount(name, s string) (int64, error) {
	if s == "" {
		return 0, fmt.Errorf("%w: %s is empty", ErrBadRequest, name)
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, fmt.Errorf("%w: %s must be a non-negative integer", ErrBadRequest, name)
		}
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%w: %s is out of range", ErrBadRequest, name)
	}
	return v, nil
}

// ParsePositive is ParseAmount that also refuses 0, for amounts where zero
// would be a meaningless request (adding 0 stock, buying 0 units).
func ParsePositive(name, s string) (int64, error) {
	v, err := ParseAmount(name, s)
	if err != nil {
		return 0, err
	}
	if v == 0 {
		return 0, fmt.Errorf("%w: %s must be positive", ErrBadRequest, name)
	}
	return v, nil
}

// Path reads a request's path wildcards strictly. It keeps the first error,
// so a handler reads every value and checks Err once.
type Path struct {
	r   *http.Request
	err error
}

// PathOf starts reading r's path wildcards.
func PathOf(r *http.Request) *Path { return &Path{r: r} }

// ID is ParseID of wildcard name.
func (p *Path) ID(name string) string {
	v, err := ParseID(name, p.r.PathValue(name))
	p.keep(err)
	return v
}

// Amount is ParseAmount of wildcard name.
func (p *Path) Amount(name string) int64 {
	v, err := ParseAmount(name, p.r.PathValue(name))
	p.keep(err)
	return v
}

// Positive is ParsePositive of wildcard name.
func (p *Path) Positive(name string) int64 {
	v, err := ParsePositive(name, p.r.PathValue(name))
	p.keep(err)
	return v
}

// Has reports whether the matched route has a non-empty wildcard name, for
// operations served under two route forms (the 2023 and 2024 API).
func (p *Path) Has(name string) bool { return p.r.PathValue(name) != "" }

// Err is the first parse error, nil when every value was valid.
func (p *Path) Err() error { return p.err }

func (p *Path) keep(err error) {
	if p.err == nil {
		p.err = err
	}
}

// MaxBatch bounds the rows one batch_init request may create, so a typo in
// n cannot keep a database busy for an hour. The benchmark uses 100,000.
const MaxBatch = 1_000_000

// Batch is Amount of wildcard name, refused past MaxBatch.
func (p *Path) Batch(name string) int64 {
	v := p.Amount(name)
	if v > MaxBatch {
		p.keep(fmt.Errorf("%w: %s must be at most %d", ErrBadRequest, name, MaxBatch))
	}
	return v
}
