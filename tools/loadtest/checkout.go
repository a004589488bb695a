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

// audit reads every order the run checked out, their items and users, and
// a random sample of all items and users, and holds them to what the paid
// orders say was taken (shopclient.RunAudit; batch_init gave every row the
// same starting state). With 100,000 rows of each kind it reads only what
// the run could have changed, yet every such row, and the sample shows that
// nothing else changed.
func (w *checkoutLoad) audit(ctx context.Context, c *shopclient.Client) (AuditSummary, error) {
	cfg := w.cfg
	w.mu.Lock()
	touched := slices.Sorted(maps.Keys(w.touched))
	w.mu.Unlock()
	r := rand.New(rand.NewPCG(cfg.Seed, 2))
	before := shopclient.Before{
		Items:   map[string]shopclient.Item{},
		Credit:  map[string]int64{},
		Uniform: &shopclient.Uniform{Stock: cfg.BatchStock, Price: cfg.BatchPrice, Credit: cfg.BatchCredit},
	}
	for _, id := range sampleIDs(r, cfg.BatchItems, cfg.AuditSample) {
		before.Items[id] = shopclient.Item{Stock: cfg.BatchStock, Price: cfg.BatchPrice}
	}
	for _, id := range sampleIDs(r, cfg.BatchUsers, cfg.AuditSample) {
		before.Credit[id] = cfg.BatchCredit
	}
	return runAudit(ctx, c, "touched", before, touched, w.orders, cfg.AuditConc)
}

// sampleIDs picks up to k distinct ids of "0".."n-1".
func sampleIDs(r *rand.Rand, n, k int) []string {
	picked := map[string]bool{}
	for tries := 0; len(picked) < min(k, n) && tries < 20*k; tries++ {
		picked[strconv.Itoa(r.IntN(n))] = true
	}
	return slices.Sorted(maps.Keys(picked))
}
