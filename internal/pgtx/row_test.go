package pgtx

import (
	"errors"
	"testing"

	"github.com/jackc/pgx/v5"
)

func TestRowError(t *testing.T) {
	errUnknown := errors.New("item not found")
	boom := errors.New("boom")
	if err := RowError(nil, errUnknown, "find %q", "a"); err != nil {
		t.Fatalf("nil error became %v", err)
	}
	if err := RowError(pgx.ErrNoRows, errUnknown, "find %q", "a"); !errors.Is(err, errUnknown) || err.Error() != `find "a": item not found` {
		t.Fatalf("no row = %v, want the domain's not-found error", err)
	}
	if err := RowError(boom, errUnknown, "find %q", "a"); !errors.Is(err, boom) || err.Error() != `find "a": boom` {
		t.Fatalf("other error = %v", err)
	}
}
