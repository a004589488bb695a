// Package dbmigrations holds the SQL of the three databases (order, stock,
// payment), one folder each, embedded in the binary so a function or the
// migrator can bring its database up to date with no files on disk: the
// numbered goose migrations (tables, indexes, constraints; never edited once
// released, see released.sha256) and, under functions/, the one current
// definition of every SQL function and of the saga's transition table,
// reapplied after the migrations on every start (docs/sql.md).
package dbmigrations

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

//go:embed order/*.sql stock/*.sql payment/*.sql
//go:embed order/functions/*.sql stock/functions/*.sql payment/functions/*.sql
var migrations embed.FS

// Databases are the databases that have migrations, one folder each (not
// operation.Domain: the saga and the dead letters keep their tables in the
// order database, so they have no folder of their own).
var Databases = []string{"order", "stock", "payment"}

// ErrUnknownDatabase is returned for a database without a migrations folder.
var ErrUnknownDatabase = errors.New("no migrations for database")

// FS returns the SQL of one database, rooted at its folder: the numbered
// migrations at the top (all goose reads) and the functions folder below.
func FS(database string) (fs.FS, error) {
	if !slices.Contains(Databases, database) {
		return nil, fmt.Errorf("%w %q", ErrUnknownDatabase, database)
	}
	return fs.Sub(migrations, database)
}

// Apply brings the database at dsn up to the newest migration of database, then
// (re)applies the database's functions folder. Several processes may call it at
// once (every function applies its own database's migrations at start when told
// to): a Postgres advisory lock held for the whole goose run serialises them,
// and the later ones find no migration to run; another one, held by the
// functions' transaction, keeps two of them from replacing the same function
// at once.
func Apply(ctx context.Context, dsn string, database string) error {
	fsys, err := FS(database)
	if err != nil {
		return err
	}
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return fmt.Errorf("migrate %s: parse dsn: %w", database, err)
	}
	db := stdlib.OpenDB(*cfg)
	defer db.Close()

	p, err := newProvider(db, fsys)
	if err != nil {
		return fmt.Errorf("migrate %s: %w", database, err)
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("migrate %s: %w", database, err)
	}
	files, err := functionFiles(fsys)
	if err != nil {
		return fmt.Errorf("migrate %s: %w", database, err)
	}
	if err := applyFunctions(ctx, db, files); err != nil {
		return fmt.Errorf("migrate %s: %w", database, err)
	}
	return nil
}

// newProvider is goose over the numbered migrations at the top of fsys; it
// does not look into subfolders, so the functions folder is not a migration.
func newProvider(db *sql.DB, fsys fs.FS) (*goose.Provider, error) {
	// Poll for the lock every second (goose's default is 5 s, which would
	// add seconds to every replica's start) for up to 5 minutes.
	locker, err := lock.NewPostgresSessionLocker(lock.WithLockTimeout(1, 300))
	if err != nil {
		return nil, err
	}
	// A provider of its own (not goose's package-level state) so that
	// migrating two databases from one process cannot interfere.
	return goose.NewProvider(goose.DialectPostgres, db, fsys,
		goose.WithSessionLocker(locker),
		goose.WithDisableGlobalRegistry(true),
	)
}

// sqlFile is one file of a functions folder.
type sqlFile struct {
	name string // its path in the database's folder, for errors
	sql  string
}

// functionsDir is the folder of a database's repeatable SQL.
const functionsDir = "functions"

// functionFiles reads the functions folder of a database's fsys in name order
// (fs.Glob sorts), the order they are applied in.
func functionFiles(fsys fs.FS) ([]sqlFile, error) {
	names, err := fs.Glob(fsys, path.Join(functionsDir, "*.sql"))
	if err != nil {
		return nil, err
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("no %s/*.sql", functionsDir)
	}
	files := make([]sqlFile, 0, len(names))
	for _, name := range names {
		b, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, err
		}
		files = append(files, sqlFile{name: name, sql: string(b)})
	}
	return files, nil
}

// functionsLockID keys the transaction-level advisory lock of applyFunctions.
// It differs from goose's session lock (lock.DefaultLockID), which is
// released before the functions are applied.
const functionsLockID int64 = 0x77646d5f66756e63 // "wdm_func"

// applyFunctions runs files in one transaction under functionsLockID, so a
// database has either all of a release's definitions or none of them, and two
// migrators starting at once queue instead of failing with "tuple
// concurrently updated". The files are idempotent (CREATE OR REPLACE, an
// upsert of rows), so reapplying them on every start changes nothing that is
// current and restores anything a Down section or a hand edit left behind.
func applyFunctions(ctx context.Context, db *sql.DB, files []sqlFile) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("functions: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1)`, functionsLockID); err != nil {
		return fmt.Errorf("functions: lock: %w", err)
	}
	for _, f := range files {
		// No arguments: pgx sends it with the simple protocol, which runs a
		// file of several statements (and $$-quoted bodies) as it is.
		if _, err := tx.ExecContext(ctx, f.sql); err != nil {
			return fmt.Errorf("functions: %s: %w", f.name, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("functions: commit: %w", err)
	}
	return nil
}
