// Package functiontest holds what the domains' tests share: a table of
// requests checked in order, bursts of requests sent at once, items, users
// and orders made through the API, a timed batch_init, a participant's event
// operations on a database of their own, bursts of concurrent deliveries,
// and reads of a test database.
package functiontest

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/wdm-knative/webshop/internal/eventhttp"
	"github.com/wdm-knative/webshop/internal/pgtx"
	"github.com/wdm-knative/webshop/local/testenv"
	"github.com/wdm-knative/webshop/local/testenv/shopdb"
	"github.com/wdm-knative/webshop/schemas/schematest"
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

// Burst is one step of a concurrency test: N requests sent at once
// (Path(i) the i-th), how many of them must get each status, and Want,
// what they must leave behind (checked by RunBursts' caller).
type Burst[S any] struct {
	Name     string
	N        int
	Method   string
	Path     func(i int) string
	Statuses map[int]int // status → how many requests get it; no other status
	Want     S
}

// RunBursts sends each burst's requests to base, in order, each burst as a
// subtest: the statuses must be as counted; then after checks Want.
func RunBursts[S any](t *testing.T, base string, bursts []Burst[S], after func(t *testing.T, want S)) {
	t.Helper()
	for _, b := range bursts {
		t.Run(b.Name, func(t *testing.T) {
			got := Race(t, b.N, b.Method, func(i int) string { return base + b.Path(i) })
			if !maps.Equal(got, b.Statuses) {
				t.Fatalf("%d x %s = statuses %v, want %v", b.N, b.Method, got, b.Statuses)
			}
			after(t, b.Want)
		})
	}
}

// NewItem creates an item at price through the stock API at base, adds
// stock units to it when stock > 0, and returns its ID.
func NewItem(t testing.TB, base string, price, stock int64) string {
	t.Helper()
	id := testenv.MustJSON(t, "POST", fmt.Sprintf("%s/stock/item/create/%d", base, price))["item_id"].(string)
	if stock > 0 {
		testenv.MustJSON(t, "POST", fmt.Sprintf("%s/stock/add/%s/%d", base, id, stock))
	}
	return id
}

// NewUser creates a user through the payment API at base, adds credit to
// it when credit > 0, and returns its ID.
func NewUser(t testing.TB, base string, credit int64) string {
	t.Helper()
	id := testenv.MustJSON(t, "POST", base+"/payment/create_user")["user_id"].(string)
	if credit > 0 {
		testenv.MustJSON(t, "POST", fmt.Sprintf("%s/payment/add_funds/%s/%d", base, id, credit))
	}
	return id
}

// NewOrder creates an order of user through the order API at base, adds
// items to it (item ID → quantity), and returns its ID.
func NewOrder(t testing.TB, base, user string, items map[string]int64) string {
	t.Helper()
	id := testenv.MustJSON(t, "POST", base+"/orders/create/"+user)["order_id"].(string)
	for item, q := range items {
		testenv.MustJSON(t, "POST", fmt.Sprintf("%s/orders/addItem/%s/%s/%d", base, id, item, q))
	}
	return id
}

// BatchInit posts a batch_init url, which must answer 200 with a "msg",
// and logs how long it took (not asserted: shared CI machines vary).
func BatchInit(t *testing.T, url string) {
	t.Helper()
	start := time.Now()
	code, body := testenv.CallJSON(t, "POST", url)
	t.Logf("POST %s took %v", url, time.Since(start))
	if code != 200 || body["msg"] == nil {
		t.Fatalf("batch_init = %d %v", code, body)
	}
}

// Events is a saga participant's event operations (stock, payment) on a
// fresh, migrated database of their own, called straight, without a broker.
type Events struct {
	T   *testing.T
	DB  *pgxpool.Pool
	Ops map[string]eventhttp.Handler // keyed by operation name
}

// NewEvents migrates a fresh database as domain and builds on it the event
// operations that ops returns.
func NewEvents(t *testing.T, domain string, ops func(db *pgxpool.Pool, log *slog.Logger) map[string]eventhttp.Handler) *Events {
	t.Helper()
	db := shopdb.Pool(t, domain, 16)
	return &Events{T: t, DB: db, Ops: ops(db, slog.New(slog.NewTextHandler(io.Discard, nil)))}
}

// Call delivers in to the operation op, checks the reply against its schema
// and returns it.
func (e *Events) Call(op string, in event.Event) event.Event {
	e.T.Helper()
	return schematest.Reply(e.T, e.Ops[op], in)
}

// Count runs call n times at once, call(i) the i-th, and counts what the
// calls return; a call's error fails the test and is not counted.
func Count[K comparable](t *testing.T, n int, call func(i int) (K, error)) map[K]int {
	t.Helper()
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		counts = map[K]int{}
	)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			k, err := call(i)
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			counts[k]++
			mu.Unlock()
		}()
	}
	wg.Wait()
	return counts
}

// Race sends n requests at once, url(i) the i-th, and counts their statuses.
func Race(t *testing.T, n int, method string, url func(i int) string) map[int]int {
	t.Helper()
	return Count(t, n, func(i int) (int, error) {
		req, _ := http.NewRequest(method, url(i), nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0, err
		}
		resp.Body.Close()
		return resp.StatusCode, nil
	})
}

// ReplyTypes delivers n events to h at once, in(i) the i-th, and counts the
// replies by event type.
func ReplyTypes(t *testing.T, h eventhttp.Handler, n int, in func(i int) event.Event) map[string]int {
	t.Helper()
	return Count(t, n, func(i int) (string, error) {
		out, err := h(context.Background(), in(i))
		if err != nil {
			return "", err
		}
		return out.Type(), nil
	})
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
