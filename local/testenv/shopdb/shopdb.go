// Package shopdb gives a test a fresh database of one domain with the
// project's migrations applied. (It sits apart from testenv so that the
// migrations' own tests can use testenv without an import cycle.)
package shopdb

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	dbmigrations "github.com/wdm-knative/webshop/db-migrations"
	"github.com/wdm-knative/webshop/local/testenv"
)

// Pool creates a database, migrates it as domain ("order", "stock",
// "payment") and returns a pool of at most maxConns connections (0: pgx's
// default), closed when the test ends.
func Pool(t testing.TB, domain string, maxConns int32) *pgxpool.Pool {
	t.Helper()
	ctx := context.Background()
	dsn := testenv.NewDatabase(t)
	if err := dbmigrations.Apply(ctx, dsn, domain); err != nil {
		t.Fatalf("migrate %s: %v", domain, err)
	}
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	if maxConns > 0 {
		cfg.MaxConns = maxConns
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pool
}
