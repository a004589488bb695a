package dbmigrations

import (
	"context"
	"database/sql"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"

	"github.com/wdm-knative/webshop/local/testenv"
)

// schema is what a database's migrations and functions made of it, as text
// that two databases can be compared by.
type schema struct {
	// Functions maps each function of the schema (name and argument types)
	// to its result type and definition.
	Functions map[string]string
	// Tables lists columns, constraints, indexes and storage options.
	Tables []string
	// Transitions lists saga_transitions' rows, where the table exists.
	Transitions []string
}

// snapshotQueries fill a schema; goose's own table is left out, since its
// rows and presence differ between a database at version 0 and a new one.
const (
	functionsQuery = `SELECT p.oid::regprocedure::text,
		'RETURNS ' || pg_get_function_result(p.oid) || E'\n' || pg_get_functiondef(p.oid)
		FROM pg_proc p WHERE p.pronamespace = current_schema()::regnamespace`
	tablesQuery = `
		SELECT format('column %s.%s %s %s default %s', table_name, column_name, data_type, is_nullable,
			coalesce(column_default, '-'))
		FROM information_schema.columns
		WHERE table_schema = current_schema() AND table_name <> 'goose_db_version'
		UNION ALL
		SELECT format('constraint %s.%s %s', conrelid::regclass, conname, pg_get_constraintdef(oid))
		FROM pg_constraint
		WHERE connamespace = current_schema()::regnamespace AND conrelid::regclass::text <> 'goose_db_version'
		UNION ALL
		SELECT format('index %s', indexdef) FROM pg_indexes
		WHERE schemaname = current_schema() AND tablename <> 'goose_db_version'
		UNION ALL
		SELECT format('options %s %s', relname, reloptions) FROM pg_class
		WHERE relnamespace = current_schema()::regnamespace AND reloptions IS NOT NULL
		ORDER BY 1`
	transitionsQuery = `SELECT t::text FROM saga_transitions t ORDER BY 1`
)

// snapshot reads db's schema.
func snapshot(t *testing.T, db *sql.DB) schema {
	t.Helper()
	ctx := context.Background()
	s := schema{Functions: map[string]string{}}
	rows, err := db.QueryContext(ctx, functionsQuery)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var name, def string
		if err := rows.Scan(&name, &def); err != nil {
			t.Fatal(err)
		}
		s.Functions[name] = def
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	s.Tables = textRows(t, db, tablesQuery)
	var exists bool
	if err := db.QueryRowContext(ctx, `SELECT to_regclass('saga_transitions') IS NOT NULL`).Scan(&exists); err != nil {
		t.Fatal(err)
	}
	if exists {
		s.Transitions = textRows(t, db, transitionsQuery)
	}
	return s
}

// textRows is the one text column of query's rows.
func textRows(t *testing.T, db *sql.DB, query string) []string {
	t.Helper()
	rows, err := db.QueryContext(context.Background(), query)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// openDB opens a new empty database, closed when the test ends.
func openDB(t *testing.T) (string, *sql.DB) {
	t.Helper()
	dsn := testenv.NewDatabase(t)
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	db := stdlib.OpenDB(*cfg)
	t.Cleanup(func() { db.Close() })
	return dsn, db
}

// numberedOnly is goose over domain's numbered migrations and nothing else:
// how the shop migrated before the functions folder.
func numberedOnly(t *testing.T, db *sql.DB, domain string) *goose.Provider {
	t.Helper()
	fsys, err := FS(domain)
	if err != nil {
		t.Fatal(err)
	}
	p, err := newProvider(db, fsys)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestUpgradeFromNumberedMigrations: a database migrated the way the shop
// was deployed before the functions folder (goose up to the last numbered
// migration, nothing else) ends, after Apply, with the same functions and
// transition table as a new database, and applying again changes nothing.
func TestUpgradeFromNumberedMigrations(t *testing.T) {
	ctx := context.Background()
	for _, domain := range Databases {
		t.Run(domain, func(t *testing.T) {
			deployedDSN, deployed := openDB(t)
			if _, err := numberedOnly(t, deployed, domain).Up(ctx); err != nil {
				t.Fatal(err)
			}
			if err := Apply(ctx, deployedDSN, domain); err != nil {
				t.Fatalf("upgrade: %v", err)
			}
			freshDSN, fresh := openDB(t)
			if err := Apply(ctx, freshDSN, domain); err != nil {
				t.Fatal(err)
			}
			want := snapshot(t, fresh)
			if len(want.Functions) == 0 {
				t.Fatal("a new database has no functions")
			}
			if domain == "order" && len(want.Transitions) == 0 {
				t.Fatal("a new order database has no saga_transitions rows")
			}
			if diff := cmp.Diff(want, snapshot(t, deployed)); diff != "" {
				t.Errorf("upgraded database differs from a new one (-new +upgraded):\n%s", diff)
			}

			// Again: same schema, and not one row rewritten (xmin is the
			// transaction that wrote a row version).
			xmins := `SELECT string_agg(xmin::text, ',' ORDER BY status, stock, payment, input) FROM saga_transitions`
			var before, after sql.NullString
			if domain == "order" {
				if err := fresh.QueryRowContext(ctx, xmins).Scan(&before); err != nil {
					t.Fatal(err)
				}
			}
			if err := Apply(ctx, freshDSN, domain); err != nil {
				t.Fatalf("second Apply: %v", err)
			}
			if diff := cmp.Diff(want, snapshot(t, fresh)); diff != "" {
				t.Errorf("second Apply changed the schema (-first +second):\n%s", diff)
			}
			if domain == "order" {
				if err := fresh.QueryRowContext(ctx, xmins).Scan(&after); err != nil {
					t.Fatal(err)
				}
				if before != after {
					t.Error("second Apply rewrote saga_transitions rows that were current")
				}
			}
		})
	}
}

// TestTransitionsFileRepairsTable: whatever the transition table holds (a
// row changed, one missing, one the machine does not have), Apply makes it
// the machine's again.
func TestTransitionsFileRepairsTable(t *testing.T) {
	ctx := context.Background()
	dsn, db := openDB(t)
	if err := Apply(ctx, dsn, "order"); err != nil {
		t.Fatal(err)
	}
	want := snapshot(t, db).Transitions
	for _, stmt := range []string{
		`UPDATE saga_transitions SET emit = 'none' WHERE (status, input) = ('pending', 'StockRejected')`,
		`DELETE FROM saga_transitions WHERE (status, input) = ('pending', 'Deadline')`,
		`INSERT INTO saga_transitions VALUES ('paid', 'taken', 'taken', 'Nonsense', 'failed', 'taken', 'taken',
			'none', 'none')`,
	} {
		if _, err := db.ExecContext(ctx, stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	if err := Apply(ctx, dsn, "order"); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, snapshot(t, db).Transitions); diff != "" {
		t.Errorf("Apply left saga_transitions apart from the machine (-machine +table):\n%s", diff)
	}
}

// TestEveryDownRestores runs each numbered migration's Down section: for
// every version N of every database, up to N, snapshot, up to N+1, down to
// N, and the schema (functions, tables, transition rows) must be the
// snapshot; up to N+1 again must give what the first up gave. So every Down
// section, and every old body it copies back, runs in a test.
func TestEveryDownRestores(t *testing.T) {
	ctx := context.Background()
	for _, domain := range Databases {
		t.Run(domain, func(t *testing.T) {
			_, db := openDB(t)
			p := numberedOnly(t, db, domain)
			prev, at := snapshot(t, db), int64(0)
			for _, src := range p.ListSources() {
				if _, err := p.UpTo(ctx, src.Version); err != nil {
					t.Fatal(err)
				}
				up := snapshot(t, db)
				if _, err := p.DownTo(ctx, at); err != nil {
					t.Fatalf("down of %s: %v", src.Path, err)
				}
				if diff := cmp.Diff(prev, snapshot(t, db)); diff != "" {
					t.Errorf("down of %s does not restore version %d (-before up +after down):\n%s",
						src.Path, at, diff)
				}
				if _, err := p.UpTo(ctx, src.Version); err != nil {
					t.Fatalf("up of %s after its down: %v", src.Path, err)
				}
				if diff := cmp.Diff(up, snapshot(t, db)); diff != "" {
					t.Errorf("up of %s after its down differs from its first up (-first +again):\n%s",
						src.Path, diff)
				}
				prev, at = up, src.Version
			}
			if at == 0 {
				t.Fatal("no migrations")
			}
		})
	}
}

// createdFunction finds the functions a file defines.
var createdFunction = regexp.MustCompile(`(?mi)^CREATE OR REPLACE FUNCTION\s+(\w+)\s*\(`)

// TestEveryFunctionInFunctionsFolder: what runs is what the functions folder
// says. Every function a migrated database has is defined in it, each in a
// file of its own name, and none is defined twice.
func TestEveryFunctionInFunctionsFolder(t *testing.T) {
	ctx := context.Background()
	for _, domain := range Databases {
		t.Run(domain, func(t *testing.T) {
			fsys, err := FS(domain)
			if err != nil {
				t.Fatal(err)
			}
			files, err := functionFiles(fsys)
			if err != nil {
				t.Fatal(err)
			}
			var defined []string
			for _, f := range files {
				for _, m := range createdFunction.FindAllStringSubmatch(f.sql, -1) {
					if slices.Contains(defined, m[1]) {
						t.Errorf("%s defines %s a second time", f.name, m[1])
					}
					if want := functionsDir + "/" + m[1] + ".sql"; f.name != want {
						t.Errorf("%s defines %s, which belongs in %s", f.name, m[1], want)
					}
					defined = append(defined, m[1])
				}
			}
			dsn, db := openDB(t)
			if err := Apply(ctx, dsn, domain); err != nil {
				t.Fatal(err)
			}
			var have []string
			for name := range snapshot(t, db).Functions {
				have = append(have, name[:strings.IndexByte(name, '(')])
			}
			slices.Sort(defined)
			slices.Sort(have)
			if diff := cmp.Diff(defined, have); diff != "" {
				t.Errorf("functions of the database vs %s/%s (-folder +database):\n%s", domain, functionsDir, diff)
			}
		})
	}
}

// TestFunctionsInOneTransaction: a file that fails leaves nothing of the
// files before it, so a database never runs half of a release's functions.
func TestFunctionsInOneTransaction(t *testing.T) {
	ctx := context.Background()
	_, db := openDB(t)
	err := applyFunctions(ctx, db, []sqlFile{
		{name: "a.sql", sql: `CREATE OR REPLACE FUNCTION half_applied() RETURNS int LANGUAGE sql AS $$ SELECT 1 $$;`},
		{name: "b.sql", sql: `SELECT no_such_column FROM pg_class`},
	})
	if err == nil || !strings.Contains(err.Error(), "b.sql") {
		t.Fatalf("applyFunctions = %v, want the error of b.sql", err)
	}
	var exists bool
	if err := db.QueryRowContext(ctx, `SELECT to_regproc('half_applied') IS NOT NULL`).Scan(&exists); err != nil {
		t.Fatal(err)
	}
	if exists {
		t.Error("half_applied() exists: the first file committed without the second")
	}
}
