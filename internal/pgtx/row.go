package pgtx

import (
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// RowError words err, from a query that must find one row, as
// "<format>: <cause>", with pgx.ErrNoRows replaced by notFound (the domain's
// error for an unknown ID), so the store methods of every domain translate a
// missing row at the boundary in one way. A nil err stays nil.
func RowError(err, notFound error, format string, args ...any) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, pgx.ErrNoRows) {
		err = notFound
	}
	return fmt.Errorf(format+": %w", append(args, err)...)
}
