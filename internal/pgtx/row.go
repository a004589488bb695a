package pgtx

import (
	"context"
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

// Conditional reads the row of a write guarded by a condition, made in one
// statement that selects the written value (NULL when the condition held the
// write back) and whether the row exists: the value, or the error worded as
// "<format>: <cause>" with notFound for a missing row and refused for a
// write the condition held back. Concurrent writes cannot pass the guard
// together: the UPDATE re-checks it on the newest row version.
func Conditional[T any](row pgx.Row, notFound, refused error, format string, args ...any) (T, error) {
	var (
		v      *T
		exists bool
	)
	err := row.Scan(&v, &exists)
	switch {
	case err != nil:
	case v != nil:
		return *v, nil
	case !exists:
		err = notFound
	default:
		err = refused
	}
	var zero T
	return zero, fmt.Errorf(format+": %w", append(args, err)...)
}

// Collect runs a query and reads every row it returns with scan (e.g.
// pgx.RowToStructByPos); an error of either is worded as "<what>: <cause>".
func Collect[T any](ctx context.Context, db Executor, scan pgx.RowToFunc[T], what, sql string, args ...any) ([]T, error) {
	rows, err := db.Query(ctx, sql, args...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	out, err := pgx.CollectRows(rows, scan)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return out, nil
}
