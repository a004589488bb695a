package dbmigrations

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"io/fs"
	"os"
	"path"
	"regexp"
	"strings"
	"testing"
)

// releasedList is the checksum list of released migrations (sha256sum's
// format: the hash, two spaces, the path from this folder).
const releasedList = "released.sha256"

// numbered matches a goose migration's file name (goose reads NUMBER_*.sql).
var numbered = regexp.MustCompile(`^[0-9]+_.*\.sql$`)

// TestReleasedMigrationsUnchanged: a released migration has run wherever the
// shop runs and never runs again there, so an edit to it would reach only
// fresh databases, which every other test uses. Each listed file must be as
// listed, and each numbered file must be listed.
func TestReleasedMigrationsUnchanged(t *testing.T) {
	list, err := os.ReadFile(releasedList)
	if err != nil {
		t.Fatal(err)
	}
	listed := map[string]bool{}
	sc := bufio.NewScanner(bytes.NewReader(list))
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fields := strings.Fields(line)
		if len(fields) != 2 {
			t.Fatalf("%s:%d: want \"<sha256>  <path>\", got %q", releasedList, n, line)
		}
		want, name := fields[0], fields[1]
		listed[name] = true
		b, err := os.ReadFile(name)
		if err != nil {
			t.Errorf("%s is released (%s:%d) but cannot be read: %v; a released migration is never deleted",
				name, releasedList, n, err)
			continue
		}
		sum := sha256.Sum256(b)
		if got := hex.EncodeToString(sum[:]); got != want {
			t.Errorf("%s is released (%s:%d) but changed (sha256 %s, listed %s): it never runs again where it "+
				"ran, so restore it and put the change in a new numbered migration, or, for a function or the "+
				"transition table, in %s/functions/ (docs/sql.md)", name, releasedList, n, got, want, path.Dir(name))
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	for _, domain := range Databases {
		entries, err := fs.ReadDir(os.DirFS(domain), ".")
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			name := path.Join(domain, e.Name())
			if e.Type().IsRegular() && numbered.MatchString(e.Name()) && !listed[name] {
				t.Errorf("%s is not in %s: add it when it is released (cd db-migrations && sha256sum %s >> %s)",
					name, releasedList, name, releasedList)
			}
		}
	}
}
