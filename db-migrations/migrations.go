// Package dbmigrations holds the SQL migrations of the three databases
// (order, stock, payment), one folder each, embedded in the binary so a
// function or the migrator can bring its database up to date with no files
// on disk.
package dbmigrations

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"slices"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

//go:embed order/*.sql stock/*.sql payment/*.sql
var migrations embed.FS

// Databases are the databases that have migrations, one folder each (not
// operation.Domain: the saga and the dead letters keep their tables in the
// order database, so they have no folder of their own).
var Databases = []string{"order", "stock", "payment"}

// ErrUnknownDatabase is returned for a database without a migrations folder.
var ErrUnknownDatabase = errors.New("no migrations for database")

// FS returns the migrations of one database, rooted at its folder.
func FS(database string) (fs.FS, error) {
	if !slices.Contains(Databases, database) {
		return nil, fmt.Errorf("%w %q", ErrUnknownDatabase, database)
	}
	return fs.Sub(migrations, database)
}

// Apply brings the database at dsn up to the newest migration of domain.
// Several processes may call it at once (every function applies its own
// domain's migrations at start when told to): a Postgres advisory lock held
// for the whole run serialises them, and the later ones find nothing to do.
func Apply(ctx context.Context, dsn string, domain string) error {
	fsys, err := FS(domain)
	if err != nil {
		return err
	}
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return fmt.Errorf("migrate %s: parse dsn: %w", domain, err)
	}
	db := stdlib.OpenDB(*cfg)
	defer db.Close()

	// Poll for the lock every second (goose's default is 5 s, which would
	// add seconds to every replica's start) for up to 5 minutes.
	locker, err := lock.NewPostgresSessionLocker(lock.WithLockTimeout(1, 300))
	if err != nil {
		return fmt.Errorf("migrate %s: %w", domain, err)
	}
	// A provider of its own (not goose's package-level state) so that
	// migrating two databases from one process cannot interfere.
	p, err := goose.NewProvider(goose.DialectPostgres, db, fsys,
		goose.WithSessionLocker(locker),
		goose.WithDisableGlobalRegistry(true),
	)
	if err != nil {
		return fmt.Errorf("migrate %s: %w", domain, err)
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("migrate %s: %w", domain, err)
	}
	return nil
}
