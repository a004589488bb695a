package testenv

import (
	"os"
	"testing"
)

// Generated reads a committed file that the code generates, after writing
// want to it when update is set (the test's -update flag): the test then
// compares it with want, and -update brings the file in step.
func Generated(t testing.TB, path string, want []byte, update bool) []byte {
	t.Helper()
	if update {
		if err := os.WriteFile(path, want, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return got
}
