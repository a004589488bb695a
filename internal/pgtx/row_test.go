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

// scanned is a row that scans a conditional write's (value, exists).
type scanned struct {
	v      *int64
	exists bool
	err    error
}

func (r scanned) Scan(dest ...any) error {
	*dest[0].(**int64) = r.v
	*dest[1].(*bool) = r.exists
	return r.err
}

func TestConditional(t *testing.T) {
	errUnknown, errShort, boom := errors.New("item not found"), errors.New("insufficient stock"), errors.New("boom")
	level := int64(4)
	tests := []struct {
		name    string
		row     scanned
		want    int64
		wantErr error
		wantMsg string
	}{
		{name: "written", row: scanned{v: &level, exists: true}, want: 4},
		{name: "no such row", row: scanned{}, wantErr: errUnknown, wantMsg: `take 1 from "a": item not found`},
		{name: "held back", row: scanned{exists: true}, wantErr: errShort, wantMsg: `take 1 from "a": insufficient stock`},
		{name: "database error", row: scanned{err: boom}, wantErr: boom, wantMsg: `take 1 from "a": boom`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Conditional[int64](tt.row, errUnknown, errShort, "take %d from %q", 1, "a")
			if got != tt.want || !errors.Is(err, tt.wantErr) || (err != nil && err.Error() != tt.wantMsg) {
				t.Fatalf("got %d, %v; want %d, %v", got, err, tt.want, tt.wantMsg)
			}
		})
	}
}
