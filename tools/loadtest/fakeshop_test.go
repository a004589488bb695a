package loadtest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
)

// fakeShop is the public API in memory, correct unless a fault is set; it
// lets the tests check that the load client notices what a broken shop does.
type fakeShop struct {
	mu     sync.Mutex
	next   int
	items  map[string]*fakeItem
	users  map[string]int64
	orders map[string]*fakeOrder
	// faults
	forgetCredit  bool // checkout takes stock but not credit
	ignoreStock   bool // checkout succeeds without enough stock
	busyEvery     int  // every n-th checkout answers 503 after doing its work
	checkoutCalls int
}

type fakeItem struct{ stock, price int64 }

type fakeOrder struct {
	user  string
	lines map[string]int64
	paid  bool
}

func newFakeShop() *fakeShop {
	return &fakeShop{items: map[string]*fakeItem{}, users: map[string]int64{}, orders: map[string]*fakeOrder{}}
}

func (f *fakeShop) id() string { f.next++; return "id" + strconv.Itoa(f.next) }

func (f *fakeShop) handler() http.Handler {
	mux := http.NewServeMux()
	ok := func(w http.ResponseWriter, v any) { _ = json.NewEncoder(w).Encode(v) }
	bad := func(w http.ResponseWriter) { http.Error(w, `{"error":"bad"}`, http.StatusBadRequest) }
	num := func(r *http.Request, name string) int64 {
		n, _ := strconv.ParseInt(r.PathValue(name), 10, 64)
		return n
	}
	handle := func(pattern string, h func(w http.ResponseWriter, r *http.Request)) {
		mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
			f.mu.Lock()
			defer f.mu.Unlock()
			h(w, r)
		})
	}
	handle("POST /stock/item/create/{price}", func(w http.ResponseWriter, r *http.Request) {
		id := f.id()
		f.items[id] = &fakeItem{price: num(r, "price")}
		ok(w, map[string]string{"item_id": id})
	})
	handle("POST /stock/add/{item}/{n}", func(w http.ResponseWriter, r *http.Request) {
		f.items[r.PathValue("item")].stock += num(r, "n")
		ok(w, map[string]bool{"done": true})
	})
	handle("GET /stock/find/{item}", func(w http.ResponseWriter, r *http.Request) {
		it, found := f.items[r.PathValue("item")]
		if !found {
			bad(w)
			return
		}
		ok(w, map[string]int64{"stock": it.stock, "price": it.price})
	})
	handle("POST /stock/batch_init/{n}/{stock}/{price}", func(w http.ResponseWriter, r *http.Request) {
		for i := range num(r, "n") {
			f.items[strconv.FormatInt(i, 10)] = &fakeItem{stock: num(r, "stock"), price: num(r, "price")}
		}
		ok(w, map[string]string{"msg": "ok"})
	})
	handle("POST /payment/create_user", func(w http.ResponseWriter, r *http.Request) {
		id := f.id()
		f.users[id] = 0
		ok(w, map[string]string{"user_id": id})
	})
	handle("POST /payment/add_funds/{user}/{n}", func(w http.ResponseWriter, r *http.Request) {
		f.users[r.PathValue("user")] += num(r, "n")
		ok(w, map[string]bool{"done": true})
	})
	handle("GET /payment/find_user/{user}", func(w http.ResponseWriter, r *http.Request) {
		ok(w, map[string]any{"user_id": r.PathValue("user"), "credit": f.users[r.PathValue("user")]})
	})
	handle("POST /payment/batch_init/{n}/{credit}", func(w http.ResponseWriter, r *http.Request) {
		for i := range num(r, "n") {
			f.users[strconv.FormatInt(i, 10)] = num(r, "credit")
		}
		ok(w, map[string]string{"msg": "ok"})
	})
	handle("POST /orders/batch_init/{n}/{items}/{users}/{price}", func(w http.ResponseWriter, r *http.Request) {
		nItems, nUsers := num(r, "items"), num(r, "users")
		for i := range num(r, "n") {
			f.orders[strconv.FormatInt(i, 10)] = &fakeOrder{
				user: strconv.FormatInt(i%nUsers, 10),
				lines: map[string]int64{
					strconv.FormatInt(i%nItems, 10):       1,
					strconv.FormatInt((i*7+1)%nItems, 10): 1,
				},
			}
		}
		ok(w, map[string]string{"msg": "ok"})
	})
	handle("POST /orders/create/{user}", func(w http.ResponseWriter, r *http.Request) {
		id := f.id()
		f.orders[id] = &fakeOrder{user: r.PathValue("user"), lines: map[string]int64{}}
		ok(w, map[string]string{"order_id": id})
	})
	addItem := func(w http.ResponseWriter, r *http.Request) {
		o := f.orders[r.PathValue("order")]
		q := int64(1)
		if r.PathValue("q") != "" {
			q = num(r, "q")
		}
		if o == nil || o.paid || f.items[r.PathValue("item")] == nil {
			bad(w)
			return
		}
		o.lines[r.PathValue("item")] += q
		ok(w, map[string]bool{"done": true})
	}
	handle("POST /orders/addItem/{order}/{item}/{q}", addItem)
	handle("POST /orders/addItem/{order}/{item}", addItem)
	handle("DELETE /orders/removeItem/{order}/{item}", func(w http.ResponseWriter, r *http.Request) {
		o := f.orders[r.PathValue("order")]
		if o == nil || o.paid || o.lines[r.PathValue("item")] == 0 {
			bad(w)
			return
		}
		if o.lines[r.PathValue("item")]--; o.lines[r.PathValue("item")] == 0 {
			delete(o.lines, r.PathValue("item"))
		}
		ok(w, map[string]bool{"done": true})
	})
	handle("GET /orders/find/{order}", func(w http.ResponseWriter, r *http.Request) {
		o := f.orders[r.PathValue("order")]
		if o == nil {
			bad(w)
			return
		}
		items := [][]any{}
		for id, q := range o.lines {
			items = append(items, []any{id, q})
		}
		ok(w, map[string]any{"order_id": r.PathValue("order"), "paid": o.paid, "items": items,
			"user_id": o.user, "total_cost": f.cost(o)})
	})
	handle("POST /orders/checkout/{order}", func(w http.ResponseWriter, r *http.Request) {
		f.checkoutCalls++
		o := f.orders[r.PathValue("order")]
		if o == nil {
			bad(w)
			return
		}
		if !o.paid {
			cost := f.cost(o)
			enough := f.users[o.user] >= cost
			for id, q := range o.lines {
				enough = enough && (f.ignoreStock || f.items[id].stock >= q)
			}
			if !enough {
				bad(w)
				return
			}
			for id, q := range o.lines {
				f.items[id].stock -= q
			}
			if !f.forgetCredit {
				f.users[o.user] -= cost
			}
			o.paid = true
		}
		if f.busyEvery > 0 && f.checkoutCalls%f.busyEvery == 0 {
			http.Error(w, `{"error":"busy"}`, http.StatusServiceUnavailable)
			return
		}
		ok(w, map[string]any{"order_id": r.PathValue("order"), "paid": true})
	})
	return mux
}

func (f *fakeShop) cost(o *fakeOrder) int64 {
	var c int64
	for id, q := range o.lines {
		c += q * f.items[id].price
	}
	return c
}

// Each workload against a correct and a broken shop in memory: the run
// passes exactly when the shop is correct, and says why not.
func TestRunAgainstFakeShop(t *testing.T) {
	tests := []struct {
		name         string
		workload     string
		fault        func(f *fakeShop)
		wantPassed   bool
		wantProblems bool // the audit finds an inconsistency
		check        func(t *testing.T, s *Summary)
	}{
		{"flow, correct shop", Flow, nil, true, false, func(t *testing.T, s *Summary) {
			if s.Checkouts == 0 || s.Audit.PaidOrders == 0 {
				t.Errorf("no checkout: %+v", s.Totals)
			}
		}},
		{"checkout, correct shop", Checkout, nil, true, false, func(t *testing.T, s *Summary) {
			if s.Audit.Method != "touched" || s.Audit.OrdersRead == 0 || s.Audit.UsersRead == 0 {
				t.Errorf("audit read nothing: %+v", s.Audit)
			}
		}},
		{"mixed, correct shop", Mixed, nil, true, false, func(t *testing.T, s *Summary) {
			if s.Failures.Expected4xx == 0 {
				t.Error("no must-fail checkout was refused")
			}
			for name, c := range s.Scenarios {
				if c.Started == 0 {
					t.Errorf("scenario %s never ran", name)
				}
			}
		}},
		{"flow, credit not taken", Flow, func(f *fakeShop) { f.forgetCredit = true }, false, true, nil},
		{"checkout, credit not taken", Checkout, func(f *fakeShop) { f.forgetCredit = true }, false, true, nil},
		// Must-fail checkouts succeed and stock goes below zero.
		{"mixed, stock not checked", Mixed, func(f *fakeShop) { f.ignoreStock = true }, false, true, func(t *testing.T, s *Summary) {
			if s.Failures.Unexpected2xx == 0 {
				t.Error("must-fail checkouts that succeeded were not counted")
			}
		}},
		{"flow, some checkouts answer 503", Flow, func(f *fakeShop) { f.busyEvery = 7 }, false, false, func(t *testing.T, s *Summary) {
			if s.Failures.Server5xx == 0 || s.SettledOrders == 0 {
				t.Errorf("5xx %d, settled %d: want both > 0", s.Failures.Server5xx, s.SettledOrders)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			shop := newFakeShop()
			if tt.fault != nil {
				tt.fault(shop)
			}
			srv := httptest.NewServer(shop.handler())
			defer srv.Close()
			cfg := DefaultConfig()
			cfg.Workload, cfg.Gateway, cfg.Clients, cfg.Duration = tt.workload, srv.URL, 4, 300_000_000
			cfg.Items, cfg.Users = 20, 10
			cfg.BatchOrders, cfg.BatchItems, cfg.BatchUsers, cfg.AuditSample = 500, 300, 200, 50
			s, err := Run(t.Context(), cfg)
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			if s.Passed != tt.wantPassed {
				t.Errorf("Passed = %v (%v), want %v", s.Passed, s.Reasons, tt.wantPassed)
			}
			if got := !s.Audit.Consistent; got != tt.wantProblems {
				t.Errorf("audit problems %v, want problems: %v", s.Audit.Problems, tt.wantProblems)
			}
			if s.Requests == 0 || len(s.Timeline) == 0 {
				t.Errorf("nothing measured: %d requests, %d seconds", s.Requests, len(s.Timeline))
			}
			if tt.check != nil {
				tt.check(t, s)
			}
			if t.Failed() {
				t.Log(fmt.Sprintf("%+v", s.Failures))
			}
		})
	}
}
