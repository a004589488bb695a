package dbmigrations

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/wdm-knative/webshop/local/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

func TestUnknownDatabase(t *testing.T) {
	if err := Apply(context.Background(), "postgres://127.0.0.1:1/x", "saga"); !errors.Is(err, ErrUnknownDatabase) {
		t.Fatalf("Apply(saga) = %v, want ErrUnknownDatabase", err)
	}
}

// TestApplyConcurrentlyAndAgain: several processes migrating one database at
// once (replicas starting together) all succeed, and a later run is a no-op.
func TestApplyConcurrentlyAndAgain(t *testing.T) {
	ctx := context.Background()
	for _, domain := range Databases {
		t.Run(domain, func(t *testing.T) {
			dsn := testenv.NewDatabase(t)
			var wg sync.WaitGroup
			errs := make([]error, 4)
			for i := range errs {
				wg.Add(1)
				go func() {
					defer wg.Done()
					errs[i] = Apply(ctx, dsn, domain)
				}()
			}
			wg.Wait()
			if err := errors.Join(errs...); err != nil {
				t.Fatal(err)
			}
			if err := Apply(ctx, dsn, domain); err != nil {
				t.Fatalf("second Apply: %v", err)
			}
		})
	}
}

// TestInvariantsAreConstraints: the database itself refuses what would break
// an invariant, whatever code runs against it.
func TestInvariantsAreConstraints(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		domain string
		setup  string
		bad    string
		code   string
	}{
		{domain: "stock", setup: `INSERT INTO items (id, stock, price) VALUES ('a', 1, 1)`,
			bad: `UPDATE items SET stock = stock - 2 WHERE id = 'a'`, code: "23514"},
		{domain: "stock", bad: `INSERT INTO items (id, price) VALUES ('b', -1)`, code: "23514"},
		{domain: "stock", bad: `INSERT INTO items (id, price) VALUES ('', 1)`, code: "23514"},
		{domain: "stock", bad: `INSERT INTO items (id, price) VALUES (repeat('x', 129), 1)`, code: "23514"},
		{domain: "payment", setup: `INSERT INTO users (id, credit) VALUES ('u', 5)`,
			bad: `UPDATE users SET credit = credit - 6 WHERE id = 'u'`, code: "23514"},
		{domain: "payment", setup: `INSERT INTO users (id) VALUES ('u')`,
			bad: `INSERT INTO order_payments (user_id, order_id, amount, state) VALUES ('u', 'o', 1, 'maybe')`, code: "23514"},
		{domain: "payment", bad: `INSERT INTO order_payments (user_id, order_id, amount, state) VALUES ('ghost', 'o', 1, 'paid')`, code: "23503"},
		{domain: "order", bad: `INSERT INTO orders (user_id, status) VALUES ('u', 'shipped')`, code: "23514"},
		{domain: "order", bad: `INSERT INTO orders (user_id, total_cost) VALUES ('u', -1)`, code: "23514"},
		{domain: "order", setup: `INSERT INTO orders (id, user_id) VALUES ('o', 'u')`,
			bad: `INSERT INTO order_items (order_id, item_id, quantity, unit_price) VALUES ('o', 'i', 0, 1)`, code: "23514"},
	}
	conns := map[string]*pgx.Conn{}
	for _, domain := range Databases {
		dsn := testenv.NewDatabase(t)
		if err := Apply(ctx, dsn, domain); err != nil {
			t.Fatal(err)
		}
		conn, err := pgx.Connect(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close(ctx) })
		conns[domain] = conn
	}
	for _, tt := range tests {
		t.Run(tt.domain+": "+tt.bad, func(t *testing.T) {
			// Each case in a transaction rolled back, so cases share a database.
			tx, err := conns[tt.domain].Begin(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer tx.Rollback(ctx) //nolint:errcheck
			if tt.setup != "" {
				if _, err := tx.Exec(ctx, tt.setup); err != nil {
					t.Fatal(err)
				}
			}
			_, err = tx.Exec(ctx, tt.bad)
			var pgErr *pgconn.PgError
			if !errors.As(err, &pgErr) || pgErr.Code != tt.code {
				t.Fatalf("got %v, want SQLSTATE %s", err, tt.code)
			}
		})
	}
}
