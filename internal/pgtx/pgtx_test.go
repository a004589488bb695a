package pgtx_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/wdm-knative/webshop/internal/pgtx"
	"github.com/wdm-knative/webshop/local/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

func pool(t *testing.T) *pgxpool.Pool {
	t.Helper()
	p, err := pgxpool.New(context.Background(), testenv.NewDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	if _, err := p.Exec(context.Background(), `CREATE TABLE t (v int PRIMARY KEY)`); err != nil {
		t.Fatal(err)
	}
	return p
}

func count(t *testing.T, p *pgxpool.Pool) int {
	t.Helper()
	var n int
	if err := p.QueryRow(context.Background(), `SELECT count(*) FROM t`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestWithTx(t *testing.T) {
	t.Parallel()
	boom := errors.New("boom")
	cases := []struct {
		name     string
		ctx      func() context.Context
		fn       func(ctx context.Context, tx pgx.Tx) error
		wantErr  error
		wantRows int
	}{
		{"commits", context.Background, func(ctx context.Context, tx pgx.Tx) error {
			_, err := tx.Exec(ctx, `INSERT INTO t VALUES (1)`)
			return err
		}, nil, 1},
		{"rolls back on error", context.Background, func(ctx context.Context, tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, `INSERT INTO t VALUES (1)`); err != nil {
				return err
			}
			return boom
		}, boom, 0},
		{"rolls back when the context is cancelled mid-transaction", func() context.Context {
			ctx, cancel := context.WithCancel(context.Background())
			t.Cleanup(cancel)
			return ctx
		}, func(ctx context.Context, tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, `INSERT INTO t VALUES (1)`); err != nil {
				return err
			}
			return context.Canceled
		}, context.Canceled, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			p := pool(t)
			ctx := c.ctx()
			err := pgtx.WithTx(ctx, p, func(tx pgx.Tx) error { return c.fn(ctx, tx) })
			if !errors.Is(err, c.wantErr) {
				t.Fatalf("err %v, want %v", err, c.wantErr)
			}
			if n := count(t, p); n != c.wantRows {
				t.Errorf("%d rows, want %d", n, c.wantRows)
			}
			// The connection went back clean: nothing is left open on it.
			var idleInTx int
			if err := p.QueryRow(context.Background(), `SELECT count(*) FROM pg_stat_activity
				WHERE datname = current_database() AND state LIKE 'idle in transaction%'`).Scan(&idleInTx); err != nil {
				t.Fatal(err)
			}
			if idleInTx != 0 {
				t.Errorf("%d connections left idle in transaction", idleInTx)
			}
		})
	}
}

func TestWithTxPanic(t *testing.T) {
	t.Parallel()
	p := pool(t)
	func() {
		defer func() {
			if recover() == nil {
				t.Error("panic was swallowed")
			}
		}()
		_ = pgtx.WithTx(context.Background(), p, func(tx pgx.Tx) error {
			if _, err := tx.Exec(context.Background(), `INSERT INTO t VALUES (1)`); err != nil {
				return err
			}
			panic("bug")
		})
	}()
	if n := count(t, p); n != 0 {
		t.Errorf("%d rows after a panic, want 0", n)
	}
}

func TestRetry(t *testing.T) {
	t.Parallel()
	deadlock := &pgconn.PgError{Code: "40P01"}
	serialization := &pgconn.PgError{Code: "40001"}
	other := &pgconn.PgError{Code: "23505"}
	cases := []struct {
		name      string
		errs      []error // what successive attempts return; past the end: nil
		wantCalls int
		wantErr   error
	}{
		{"success at once", nil, 1, nil},
		{"deadlock then success", []error{deadlock}, 2, nil},
		{"serialization failures then success", []error{serialization, serialization}, 3, nil},
		{"not transient: no retry", []error{other}, 1, other},
		{"gives up after the bound", []error{deadlock, deadlock, deadlock, deadlock, deadlock, deadlock}, 5, deadlock},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			calls := 0
			v, err := pgtx.Retry(context.Background(), func(context.Context) (int, error) {
				calls++
				if calls <= len(c.errs) {
					return 0, c.errs[calls-1]
				}
				return 42, nil
			})
			if !errors.Is(err, c.wantErr) || calls != c.wantCalls {
				t.Fatalf("err %v after %d calls, want %v after %d", err, calls, c.wantErr, c.wantCalls)
			}
			if err == nil && v != 42 {
				t.Errorf("value %d", v)
			}
		})
	}
}

// A real deadlock between two transactions: Retry runs the loser again and
// both end up committed.
func TestRetryRealDeadlock(t *testing.T) {
	t.Parallel()
	p := pool(t)
	ctx := context.Background()
	if _, err := p.Exec(ctx, `INSERT INTO t VALUES (1), (2)`); err != nil {
		t.Fatal(err)
	}
	// Both hold their first row before either asks for its second, so
	// Postgres must pick a victim; Retry runs the victim again.
	var holding sync.WaitGroup
	holding.Add(2)
	run := func(first, second int) error {
		attempts := 0
		_, err := pgtx.Retry(ctx, func(ctx context.Context) (struct{}, error) {
			attempts++
			return struct{}{}, pgtx.WithTx(ctx, p, func(tx pgx.Tx) error {
				if _, err := tx.Exec(ctx, `UPDATE t SET v = v WHERE v = $1`, first); err != nil {
					return err
				}
				if attempts == 1 {
					holding.Done()
					holding.Wait()
				}
				_, err := tx.Exec(ctx, `UPDATE t SET v = v WHERE v = $1`, second)
				return err
			})
		})
		return err
	}
	errs := make(chan error, 2)
	go func() { errs <- run(1, 2) }()
	go func() { errs <- run(2, 1) }()
	for range 2 {
		if err := <-errs; err != nil {
			t.Errorf("transaction failed after retries: %v", err)
		}
	}
}

func TestCollect(t *testing.T) {
	t.Parallel()
	p := pool(t)
	ctx := context.Background()
	if _, err := p.Exec(ctx, `INSERT INTO t VALUES (1), (2), (3)`); err != nil {
		t.Fatal(err)
	}
	got, err := pgtx.Collect(ctx, p, pgx.RowTo[int32], "read t", `SELECT v FROM t WHERE v > $1 ORDER BY v`, 1)
	if err != nil || len(got) != 2 || got[0] != 2 || got[1] != 3 {
		t.Fatalf("Collect = %v, %v; want [2 3]", got, err)
	}
	if _, err := pgtx.Collect(ctx, p, pgx.RowTo[int32], "read u", `SELECT v FROM u`); err == nil || !strings.HasPrefix(err.Error(), "read u: ") {
		t.Fatalf("query error = %v, want it worded as read u: ...", err)
	}
	if _, err := pgtx.Collect(ctx, p, pgx.RowTo[int32], "read t", `SELECT 'x'::text`); err == nil || !strings.HasPrefix(err.Error(), "read t: ") {
		t.Fatalf("scan error = %v, want it worded as read t: ...", err)
	}
}
