package loadtest

import (
	"context"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wdm-knative/webshop/internal/shopclient"
)

// checkoutLoad is the 2024 course benchmark: batch_init of orders, users and
// items ("0".."n-1"), then every client checks out random orders. An order
// already paid answers 200 again, which counts as a checkout.
type checkoutLoad struct {
	cfg    Config
	orders *orderBook

	mu      sync.Mutex
	touched map[string]bool // orders checked out at least once
	next    atomic.Int64    // with FreshOrders: how many orders were handed out
}

func newCheckoutLoad(cfg Config) *checkoutLoad {
	return &checkoutLoad{cfg: cfg, orders: newOrderBook(), touched: map[string]bool{}}
}

func (w *checkoutLoad) book() *orderBook { return w.orders }

// setup runs the three batch_inits as the course's init_orders.py does.
// They overwrite: after them every item, user and order of the ranges is
// in a known state, which is the audit's "before".
func (w *checkoutLoad) setup(ctx context.Context, c *shopclient.Client) error {
	cfg := w.cfg
	for _, path := range []string{
		fmt.Sprintf("/orders/batch_init/%d/%d/%d/%d", cfg.BatchOrders, cfg.BatchItems, cfg.BatchUsers, cfg.BatchPrice),
		fmt.Sprintf("/payment/batch_init/%d/%d", cfg.BatchUsers, cfg.BatchCredit),
		fmt.Sprintf("/stock/batch_init/%d/%d/%d", cfg.BatchItems, cfg.BatchStock, cfg.BatchPrice),
	} {
		if _, err := c.Retry(ctx, "POST", path, nil); err != nil {
			return fmt.Errorf("POST %s: %w", path, err)
		}
	}
	return nil
}

func (w *checkoutLoad) iterate(ctx context.Context, k *caller, r *rand.Rand) {
	id := strconv.Itoa(w.pick(r))
	code, out, err := k.do(ctx, "POST", "/orders/checkout/"+id, false, nil)
	if err == errStopped {
		return
	}
	w.mu.Lock()
	w.touched[id] = true
	w.mu.Unlock()
	w.orders.checkedOut(id, code, out)
}

// pick chooses the next order: a random one, as the course's test does, or
// with FreshOrders one not checked out before (until all were), so that
// every checkout runs a saga and runs with different numbers of orders cost
// the same work.
func (w *checkoutLoad) pick(r *rand.Rand) int {
	n := w.cfg.BatchOrders
	if !w.cfg.FreshOrders {
		return r.IntN(n)
	}
	return freshOrder(w.next.Add(1)-1, n)
}

// freshOrder maps the i-th pick onto 0..n-1 without repeats within n picks:
// multiplying by a prime that does not divide n permutes the residues, and
// spreads consecutive picks over the table.
func freshOrder(i int64, n int) int {
	const stride = 1_000_003 // prime
	if n%stride == 0 {
		return int(i % int64(n))
	}
	return int((i % int64(n)) * stride % int64(n))
}

// audit reads every order the run checked out, and every item and user of
// those orders, through the API, and checks each against what the paid
// orders say must have been taken from it: per item, stock taken = units in
// paid orders; per user, credit taken = paid orders' totals; and the three
// sums equal. A random sample of items and users that no checked-out order
// names must be untouched. With 100,000 rows of each kind this reads only
// what the run could have changed, yet every such row.
func (w *checkoutLoad) audit(ctx context.Context, c *shopclient.Client) (AuditSummary, error) {
	began := time.Now()
	cfg := w.cfg
	a := AuditSummary{Method: "touched"}
	var problems problemList

	w.mu.Lock()
	touched := make([]string, 0, len(w.touched))
	for id := range w.touched {
		touched = append(touched, id)
	}
	w.mu.Unlock()
	w.orders.mu.Lock()
	answers := make(map[string]int, len(w.orders.answers))
	for id, code := range w.orders.answers {
		answers[id] = code
	}
	w.orders.mu.Unlock()

	orders, err := shopclient.ReadAll(ctx, touched, cfg.AuditConc, c.FindOrder)
	if err != nil {
		return a, fmt.Errorf("reading orders: %w", err)
	}
	a.OrdersRead = len(orders)
	wantStock := map[string]int64{}  // item → units the paid orders took
	wantCredit := map[string]int64{} // user → what the paid orders cost
	for _, id := range touched {
		o := orders[id]
		lines, err := parseLines(o.Items)
		if err != nil {
			problems.add("order %s: %v", id, err)
			continue
		}
		var cost int64
		for _, l := range lines {
			cost += l.Quantity * cfg.BatchPrice
			if _, seen := wantStock[l.ItemID]; !seen {
				wantStock[l.ItemID] = 0
			}
		}
		if _, seen := wantCredit[o.UserID]; !seen {
			wantCredit[o.UserID] = 0
		}
		if cost != o.TotalCost {
			problems.add("order %s: total_cost %d, but its items cost %d", id, o.TotalCost, cost)
		}
		if o.Paid {
			a.PaidOrders++
			a.PaidTotal += o.TotalCost
			wantCredit[o.UserID] += o.TotalCost
			for _, l := range lines {
				wantStock[l.ItemID] += l.Quantity
			}
		}
		switch code, ok := answers[id]; {
		case !ok:
		case code == 200 && !o.Paid:
			problems.add("order %s answered 200 but is not paid", id)
		case code >= 400 && o.Paid:
			problems.add("order %s answered %d but is paid", id, code)
		}
	}

	// The untouched sample: ids of the batch ranges that no order names.
	r := rand.New(rand.NewPCG(cfg.Seed, 2))
	sampleItems := sampleAbsent(r, cfg.BatchItems, wantStock, cfg.AuditSample)
	sampleUsers := sampleAbsent(r, cfg.BatchUsers, wantCredit, cfg.AuditSample)

	itemIDs := append(slices.Collect(maps.Keys(wantStock)), sampleItems...)
	items, err := shopclient.ReadAll(ctx, itemIDs, cfg.AuditConc, c.FindItem)
	if err != nil {
		return a, fmt.Errorf("reading items: %w", err)
	}
	a.ItemsRead = len(items)
	for _, id := range itemIDs {
		it := items[id]
		taken := cfg.BatchStock - it.Stock
		a.StockValueTaken += taken * it.Price
		if it.Price != cfg.BatchPrice {
			problems.add("item %s: price %d, batch_init set %d", id, it.Price, cfg.BatchPrice)
		}
		if want := wantStock[id]; taken != want {
			problems.add("item %s: %d units taken, paid orders hold %d", id, taken, want)
		}
	}

	userIDs := append(slices.Collect(maps.Keys(wantCredit)), sampleUsers...)
	users, err := shopclient.ReadAll(ctx, userIDs, cfg.AuditConc, c.FindUser)
	if err != nil {
		return a, fmt.Errorf("reading users: %w", err)
	}
	a.UsersRead = len(users)
	for _, id := range userIDs {
		taken := cfg.BatchCredit - users[id].Credit
		a.CreditTaken += taken
		if want := wantCredit[id]; taken != want {
			problems.add("user %s: credit taken %d, paid orders cost %d", id, taken, want)
		}
	}

	if a.StockValueTaken != a.CreditTaken || a.CreditTaken != a.PaidTotal {
		problems.add("stock value taken %d, credit taken %d, paid orders' total %d: all three must be equal",
			a.StockValueTaken, a.CreditTaken, a.PaidTotal)
	}
	a.Problems = problems.list()
	a.Consistent = len(a.Problems) == 0
	a.DurationS = time.Since(began).Seconds()
	return a, nil
}

// parseLines reads an order's items, [[item_id, quantity], ...].
func parseLines(items [][]any) ([]shopclient.Line, error) {
	out := make([]shopclient.Line, 0, len(items))
	for _, it := range items {
		if len(it) != 2 {
			return nil, fmt.Errorf("item line %v is not [item_id, quantity]", it)
		}
		id, ok1 := it[0].(string)
		q, ok2 := it[1].(float64)
		if !ok1 || !ok2 || q < 1 || q != float64(int64(q)) {
			return nil, fmt.Errorf("item line %v is not [item_id, quantity]", it)
		}
		out = append(out, shopclient.Line{ItemID: id, Quantity: int64(q)})
	}
	return out, nil
}

// sampleAbsent picks up to k distinct ids of "0".."n-1" that are not keys
// of present.
func sampleAbsent[V any](r *rand.Rand, n int, present map[string]V, k int) []string {
	free := n - len(present)
	k = min(k, free)
	picked := map[string]bool{}
	for tries := 0; len(picked) < k && tries < 20*k; tries++ {
		id := strconv.Itoa(r.IntN(n))
		if _, ok := present[id]; !ok {
			picked[id] = true
		}
	}
	out := slices.Collect(maps.Keys(picked))
	slices.Sort(out)
	return out
}

// problemList keeps the first problems found and counts the rest: a broken
// shop can break every one of 100,000 rows.
type problemList struct {
	items []string
	more  int
}

const maxProblems = 200

func (p *problemList) add(format string, args ...any) {
	if len(p.items) < maxProblems {
		p.items = append(p.items, fmt.Sprintf(format, args...))
	} else {
		p.more++
	}
}

func (p *problemList) list() []string {
	if p.more > 0 {
		return append(p.items, fmt.Sprintf("... and %d more problems", p.more))
	}
	return p.items
}
