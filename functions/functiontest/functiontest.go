// Package functiontest holds what the domains' HTTP tests share: a table of
// requests checked in order, a burst of concurrent requests, and reads of a
// test database.
package functiontest

import (
	"context"
	"net/http"
	"sync"
	"testing"

	"github.com/wdm-knative/webshop/internal/pgtx"
	"github.com/wdm-knative/webshop/internal/testenv"
)

// Step is one request of a table test, the answer it must get, and Want,
// what it must leave behind (checked by RunSteps' caller).
type Step[S any] struct {
	Name   string
	Method string
	Path   string
	Status int
	Body   map[string]any // fields the answer must hold, compared with ==
	Want   S
}

// RunSteps sends each step's request to base, in order, each as a subtest:
// it must be answered with Status, an error answer must say "error", the
// answer must hold Body's fields; then after checks the step's Want.
func RunSteps[S any](t *testing.T, base string, steps []Step[S], after func(t *testing.T, want S)) {
	t.Helper()
	for _, st := range steps {
		t.Run(st.Name, func(t *testing.T) {
			code, body := testenv.CallJSON(t, st.Method, base+st.Path)
			if code != st.Status {
				t.Fatalf("%s %s = %d %v, want %d", st.Method, st.Path, code, body, st.Status)
			}
			if code >= 400 && body["error"] == nil {
				t.Fatalf("error answer without \"error\": %v", body)
			}
			for k, v := range st.Body {
				if body[k] != v {
					t.Fatalf("body[%q] = %v, want %v (body %v)", k, body[k], v, body)
				}
			}
			after(t, st.Want)
		})
	}
}

// Race sends n requests at once, url(i) the i-th, and counts their statuses.
func Race(t *testing.T, n int, method string, url func(i int) string) map[int]int {
	t.Helper()
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		statuses = map[int]int{}
	)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequest(method, url(i), nil)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			resp.Body.Close()
			mu.Lock()
			statuses[resp.StatusCode]++
			mu.Unlock()
		}()
	}
	wg.Wait()
	return statuses
}

// Int is the one integer that sql (with args) selects from db.
func Int(t testing.TB, db pgtx.Executor, sql string, args ...any) int64 {
	t.Helper()
	var n int64
	if err := db.QueryRow(context.Background(), sql, args...).Scan(&n); err != nil {
		t.Fatalf("%s %v: %v", sql, args, err)
	}
	return n
}

// Exec runs sql (with args) on db, failing the test on an error.
func Exec(t testing.TB, db pgtx.Executor, sql string, args ...any) {
	t.Helper()
	if _, err := db.Exec(context.Background(), sql, args...); err != nil {
		t.Fatalf("%s %v: %v", sql, args, err)
	}
}
