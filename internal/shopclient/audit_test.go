package shopclient

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// shopState is what the find endpoints of a shop answer.
type shopState struct {
	items  map[string]Item
	credit map[string]int64
	orders map[string]Order
}

// serve answers stock/find, payment/find_user and orders/find from st, and
// 404 for anything it does not hold.
func serve(t *testing.T, st shopState) *Client {
	t.Helper()
	mux := http.NewServeMux()
	reply := func(w http.ResponseWriter, v any, found bool) {
		if !found {
			http.Error(w, `{"error":"not found"}`, http.StatusNotFound)
			return
		}
		_ = json.NewEncoder(w).Encode(v)
	}
	mux.HandleFunc("GET /stock/find/{id}", func(w http.ResponseWriter, r *http.Request) {
		it, ok := st.items[r.PathValue("id")]
		reply(w, it, ok)
	})
	mux.HandleFunc("GET /payment/find_user/{id}", func(w http.ResponseWriter, r *http.Request) {
		c, ok := st.credit[r.PathValue("id")]
		reply(w, User{UserID: r.PathValue("id"), Credit: c}, ok)
	})
	mux.HandleFunc("GET /orders/find/{id}", func(w http.ResponseWriter, r *http.Request) {
		o, ok := st.orders[r.PathValue("id")]
		o.OrderID = r.PathValue("id")
		reply(w, o, ok)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return New(srv.URL, 4)
}

func line(item string, q int) []any { return []any{item, float64(q)} }

// batchPriced turns the correct shop of TestRunAudit into one where, as
// after batch_init, every item costs 3: p (2 a + 1 b) cost 9, q (1 b) 3.
func batchPriced(st *shopState) {
	st.items["b"] = Item{Stock: 9, Price: 3}
	st.credit["u"] = 91
	for id, total := range map[string]int64{"p": 9, "q": 3} {
		o := st.orders[id]
		o.TotalCost = total
		st.orders[id] = o
	}
}

// The audit against shops in known states: a correct one passes, and each
// kind of broken state is named, and only that.
func TestRunAudit(t *testing.T) {
	// Before: item a (price 3) and b (price 5), stock 10 each; users u and v
	// with credit 100. The run made order p (u: 2 a + 1 b = 11, paid) and
	// order q (v: 1 b = 5, refused).
	before := Before{
		Items:  map[string]Item{"a": {Stock: 10, Price: 3}, "b": {Stock: 10, Price: 5}},
		Credit: map[string]int64{"u": 100, "v": 100},
	}
	correct := func() shopState {
		return shopState{
			items:  map[string]Item{"a": {Stock: 8, Price: 3}, "b": {Stock: 9, Price: 5}},
			credit: map[string]int64{"u": 89, "v": 100},
			orders: map[string]Order{
				"p": {Paid: true, UserID: "u", TotalCost: 11, Items: [][]any{line("a", 2), line("b", 1)}},
				"q": {Paid: false, UserID: "v", TotalCost: 5, Items: [][]any{line("b", 1)}},
			},
		}
	}
	answers := map[string]int{"p": 200, "q": 400}

	tests := []struct {
		name    string
		before  Before
		break_  func(st *shopState, answers map[string]int)
		want    []string // substrings, one per expected problem
		wantSum Audit    // the figures, when checked
	}{
		{name: "consistent", wantSum: Audit{StockValueTaken: 11, CreditTaken: 11, PaidTotal: 11, PaidOrders: 1,
			OrdersRead: 2, ItemsRead: 2, UsersRead: 2}},
		{name: "credit not taken", break_: func(st *shopState, _ map[string]int) { st.credit["u"] = 100 },
			want: []string{"user u: credit taken 0, paid orders cost 11", "all three must be equal"}},
		{name: "stock taken twice", break_: func(st *shopState, _ map[string]int) { st.items["a"] = Item{Stock: 6, Price: 3} },
			want: []string{"item a: 4 units taken, paid orders hold 2", "all three must be equal"}},
		{name: "stock taken for a refused order", break_: func(st *shopState, _ map[string]int) { st.items["b"] = Item{Stock: 8, Price: 5} },
			want: []string{"item b: 2 units taken, paid orders hold 1", "all three must be equal"}},
		{name: "negative stock", break_: func(st *shopState, _ map[string]int) { st.items["a"] = Item{Stock: -1, Price: 3} },
			want: []string{"item a has negative stock -1", "item a: 11 units taken", "all three must be equal"}},
		{name: "stock gained", break_: func(st *shopState, _ map[string]int) { st.items["b"] = Item{Stock: 12, Price: 5} },
			want: []string{"item b gained stock: 10 → 12", "all three must be equal"}},
		{name: "credit gained by a user without paid orders", break_: func(st *shopState, _ map[string]int) { st.credit["v"] = 105 },
			want: []string{"user v gained credit: 100 → 105", "all three must be equal"}},
		{name: "negative credit", break_: func(st *shopState, _ map[string]int) { st.credit["v"] = -1 },
			want: []string{"user v has negative credit -1", "user v: credit taken 101", "all three must be equal"}},
		{name: "price changed", break_: func(st *shopState, _ map[string]int) { st.items["a"] = Item{Stock: 8, Price: 4} },
			want: []string{"item a: price 4, was 3"}},
		{name: "total cost wrong", break_: func(st *shopState, _ map[string]int) {
			o := st.orders["q"]
			o.TotalCost = 4
			st.orders["q"] = o
		}, want: []string{"order q: total_cost 4, but its items cost 5"}},
		{name: "answered 200, not paid", break_: func(st *shopState, a map[string]int) { a["q"] = 200 },
			want: []string{"order q answered 200 but is not paid"}},
		{name: "refused, yet paid", break_: func(st *shopState, a map[string]int) { a["p"] = 400 },
			want: []string{"order p answered 400 but is paid"}},
		{name: "any 4xx is a refusal", break_: func(st *shopState, a map[string]int) { a["p"] = 404 },
			want: []string{"order p answered 404 but is paid"}},
		// A 5xx decides nothing: the saga may pay the order afterwards.
		{name: "5xx is no refusal", break_: func(st *shopState, a map[string]int) { a["p"] = 503 }},
		{name: "malformed item line", break_: func(st *shopState, _ map[string]int) {
			o := st.orders["q"]
			o.Items = [][]any{{"b"}}
			st.orders["q"] = o
		}, want: []string{"order q: item line [b] is not [item_id, quantity]"}},
		{name: "order names an item the audit does not know", break_: func(st *shopState, _ map[string]int) {
			st.items["c"] = Item{Stock: 0, Price: 5}
			o := st.orders["q"]
			o.Items, o.TotalCost = append(o.Items, line("c", 1)), 10
			st.orders["q"] = o
		}, want: []string{"order q names item c", "order q: total_cost 10, but its items cost 5"}},
		{name: "uniform state of unlisted rows",
			before: Before{Items: map[string]Item{}, Credit: map[string]int64{}, Uniform: &Uniform{Stock: 10, Price: 3, Credit: 100}},
			break_: func(st *shopState, _ map[string]int) { batchPriced(st) }, wantSum: Audit{StockValueTaken: 9, CreditTaken: 9, PaidTotal: 9, PaidOrders: 1, OrdersRead: 2, ItemsRead: 2, UsersRead: 2}},
		{name: "listed row that no order names changed",
			before: Before{Items: map[string]Item{"z": {Stock: 10, Price: 3}}, Credit: map[string]int64{}, Uniform: &Uniform{Stock: 10, Price: 3, Credit: 100}},
			break_: func(st *shopState, _ map[string]int) {
				batchPriced(st)
				st.items["z"] = Item{Stock: 9, Price: 3}
			}, want: []string{"item z: 1 units taken, paid orders hold 0", "all three must be equal"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, ans := correct(), map[string]int{}
			for k, v := range answers {
				ans[k] = v
			}
			if tt.break_ != nil {
				tt.break_(&st, ans)
			}
			b := before
			if tt.before.Items != nil {
				b = tt.before
			}
			a, err := serve(t, st).RunAudit(t.Context(), AuditScope{Before: b, Orders: []string{"p", "q"}, Answers: ans})
			if err != nil {
				t.Fatal(err)
			}
			if len(a.Problems) != len(tt.want) {
				t.Errorf("problems %q, want %d matching %q", a.Problems, len(tt.want), tt.want)
			}
			for _, w := range tt.want {
				found := false
				for _, p := range a.Problems {
					found = found || strings.Contains(p, w)
				}
				if !found {
					t.Errorf("no problem says %q; problems: %q", w, a.Problems)
				}
			}
			if a.Consistent() != (len(tt.want) == 0) {
				t.Errorf("Consistent() = %v with problems %q", a.Consistent(), a.Problems)
			}
			if tt.wantSum.PaidOrders > 0 {
				got := Audit{StockValueTaken: a.StockValueTaken, CreditTaken: a.CreditTaken, PaidTotal: a.PaidTotal,
					PaidOrders: a.PaidOrders, OrdersRead: a.OrdersRead, ItemsRead: a.ItemsRead, UsersRead: a.UsersRead}
				if diff := cmp.Diff(tt.wantSum, got, cmp.AllowUnexported(Audit{})); diff != "" {
					t.Errorf("figures (-want +got):\n%s", diff)
				}
			}
		})
	}
}

// A shop broken in every row yields a bounded list that still says how
// many problems it left out.
func TestRunAuditBoundsProblems(t *testing.T) {
	const n = 300
	before := Before{Items: map[string]Item{}, Credit: map[string]int64{}}
	st := shopState{items: map[string]Item{}, credit: map[string]int64{}, orders: map[string]Order{}}
	for i := range n {
		id := strconv.Itoa(i)
		before.Items[id] = Item{Stock: 5, Price: 1}
		st.items[id] = Item{Stock: 4, Price: 1} // one unit gone, no order took it
	}
	a, err := serve(t, st).RunAudit(t.Context(), AuditScope{Before: before})
	if err != nil {
		t.Fatal(err)
	}
	// n item problems and the three sums: maxProblems kept, then the count.
	if len(a.Problems) != maxProblems+1 {
		t.Fatalf("%d problems, want %d", len(a.Problems), maxProblems+1)
	}
	if want := fmt.Sprintf("... and %d more problems", n+1-maxProblems); a.Problems[maxProblems] != want {
		t.Errorf("last entry %q, want %q", a.Problems[maxProblems], want)
	}
}

// A shop that cannot answer makes the audit fail, not pass.
func TestRunAuditUnreadableRow(t *testing.T) {
	before := Before{Items: map[string]Item{"gone": {Stock: 1, Price: 1}}}
	_, err := serve(t, shopState{}).RunAudit(t.Context(), AuditScope{Before: before})
	if err == nil || !strings.Contains(err.Error(), "reading items") {
		t.Fatalf("err = %v, want a failed read of items", err)
	}
}

func TestParseLines(t *testing.T) {
	tests := []struct {
		name    string
		json    string
		want    []Line
		wantErr bool
	}{
		{"two lines", `[["0", 1], ["7", 2]]`, []Line{{ItemID: "0", Quantity: 1}, {ItemID: "7", Quantity: 2}}, false},
		{"empty", `[]`, []Line{}, false},
		{"quantity not a number", `[["0", "1"]]`, nil, true},
		{"fractional quantity", `[["0", 1.5]]`, nil, true},
		{"zero quantity", `[["0", 0]]`, nil, true},
		{"three fields", `[["0", 1, 2]]`, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var items [][]any
			if err := json.Unmarshal([]byte(tt.json), &items); err != nil {
				t.Fatal(err)
			}
			got, err := parseLines(items)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			if diff := cmp.Diff(tt.want, got); !tt.wantErr && diff != "" {
				t.Errorf("lines (-want +got):\n%s", diff)
			}
		})
	}
}
