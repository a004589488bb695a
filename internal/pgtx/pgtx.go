// Package pgtx is the one way this project runs Postgres transactions: an
// Executor interface that a pool, a connection and a transaction all satisfy,
// WithTx for the begin / rollback / commit around a function, and Retry for
// the transient conflicts (serialization failures, deadlocks) that a whole
// transaction may simply run again.
package pgtx

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Executor runs statements: *pgxpool.Pool, *pgx.Conn and pgx.Tx satisfy it.
type Executor interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// DB is an Executor that can also begin transactions (*pgxpool.Pool).
type DB interface {
	Executor
	Begin(ctx context.Context) (pgx.Tx, error)
}

// rollbackTimeout bounds a rollback; it runs on a context of its own, so a
// request cancelled mid-transaction still returns its connection clean.
const rollbackTimeout = 5 * time.Second

// WithTx runs fn in a transaction and commits it when fn returns nil. When
// fn fails (or panics) the transaction is rolled back, on a context that is
// not ctx: a cancelled ctx would make the rollback fail too, and pgx would
// then have to close the connection instead of returning it to the pool.
func WithTx(ctx context.Context, db DB, fn func(tx pgx.Tx) error) (err error) {
	tx, err := db.Begin(ctx)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer func() {
		p := recover()
		if err != nil || p != nil {
			rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), rollbackTimeout)
			_ = tx.Rollback(rctx)
			cancel()
		}
		if p != nil {
			panic(p)
		}
	}()
	if err = fn(tx); err != nil {
		return err
	}
	if err = tx.Commit(ctx); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// Postgres error codes after which the same transaction may succeed when
// run again from the start.
const (
	codeSerializationFailure = "40001"
	codeDeadlockDetected     = "40P01"
)

// Transient reports whether err is a conflict with a concurrent transaction
// that a retry of the whole transaction can get past.
func Transient(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && (pgErr.Code == codeSerializationFailure || pgErr.Code == codeDeadlockDetected)
}

// maxAttempts bounds Retry: a conflict that repeats this often is load the
// caller should hear about (the broker retries a 5xx later), not spin on.
const maxAttempts = 5

// Retry runs fn until it returns something other than a transient conflict,
// at most a few times, with a short pause growing between attempts.
func Retry[T any](ctx context.Context, fn func(context.Context) (T, error)) (T, error) {
	pause := time.Millisecond
	for attempt := 1; ; attempt++ {
		v, err := fn(ctx)
		if err == nil || !Transient(err) || attempt == maxAttempts {
			return v, err
		}
		select {
		case <-ctx.Done():
			return v, errors.Join(err, ctx.Err())
		case <-time.After(pause):
		}
		pause *= 4
	}
}
