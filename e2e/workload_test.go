package e2e

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/wdm-knative/webshop/internal/shopclient"
)

// workload is a set of items, users and orders made through the API.
type workload struct {
	before shopclient.Before
	orders []string
}

// shape says how big a workload is and how scarce stock and credit are.
type shape struct {
	items, users, orders int
	stock                func(r *rand.Rand) int64 // starting stock of an item
	price                func(r *rand.Rand) int64
	credit               func(r *rand.Rand) int64 // starting credit of a user
	lines                func(r *rand.Rand) int   // distinct items in an order
	quantity             func(r *rand.Rand) int64
}

func fixed[T any](v T) func(*rand.Rand) T { return func(*rand.Rand) T { return v } }

func between(lo, hi int64) func(*rand.Rand) int64 {
	return func(r *rand.Rand) int64 { return lo + r.Int64N(hi-lo+1) }
}

// build makes the workload through the public API, 32 calls at a time.
func build(t *testing.T, s shape, seed uint64) workload {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	r := rand.New(rand.NewPCG(seed, 1))
	w := workload{before: shopclient.Before{Items: map[string]shopclient.Item{}, Credit: map[string]int64{}}}

	itemIDs := make([]string, s.items)
	itemSpecs := make([]shopclient.Item, s.items)
	for i := range itemSpecs {
		itemSpecs[i] = shopclient.Item{Stock: s.stock(r), Price: s.price(r)}
	}
	parallel(t, s.items, func(i int) error {
		id, err := client.CreateItem(ctx, itemSpecs[i].Price, itemSpecs[i].Stock)
		itemIDs[i] = id
		return err
	})
	for i, id := range itemIDs {
		w.before.Items[id] = itemSpecs[i]
	}

	userIDs := make([]string, s.users)
	credits := make([]int64, s.users)
	for i := range credits {
		credits[i] = s.credit(r)
	}
	parallel(t, s.users, func(i int) error {
		id, err := client.CreateUser(ctx, credits[i])
		userIDs[i] = id
		return err
	})
	for i, id := range userIDs {
		w.before.Credit[id] = credits[i]
	}

	type plan struct {
		user  string
		lines []shopclient.Line
	}
	plans := make([]plan, s.orders)
	for i := range plans {
		plans[i].user = userIDs[i%len(userIDs)] // round robin: the course gives each user one order
		for _, k := range r.Perm(len(itemIDs))[:min(s.lines(r), len(itemIDs))] {
			plans[i].lines = append(plans[i].lines, shopclient.Line{ItemID: itemIDs[k], Quantity: s.quantity(r)})
		}
	}
	w.orders = make([]string, s.orders)
	parallel(t, s.orders, func(i int) error {
		id, err := client.CreateOrder(ctx, plans[i].user, plans[i].lines...)
		w.orders[i] = id
		return err
	})
	return w
}

// parallel runs f for 0..n-1 with 32 callers and fails the test on an error.
func parallel(t *testing.T, n int, f func(i int) error) {
	t.Helper()
	err := shopclient.ForEach(context.Background(), n, 32, func(_ context.Context, i int) error { return f(i) })
	if err != nil {
		t.Fatalf("building the workload: %v", err)
	}
}

// outcome is what the callers of one run saw.
type outcome struct {
	mu          sync.Mutex
	answers     map[string]int // order → 200 if any caller got it, else 400 if one did
	unavailable int            // 5xx and network errors seen (retried)
	unexpected  []string       // statuses that the contract does not allow
}

func newOutcome() *outcome { return &outcome{answers: map[string]int{}} }

// answered counts the orders that got a definitive answer so far.
func (o *outcome) answered() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.answers)
}

func (o *outcome) record(order string, code int, err error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	switch {
	case errors.Is(err, shopclient.ErrUnavailable):
		o.unavailable++
	case code == 200:
		o.answers[order] = code
	case code == 400:
		// A failed checkout may be retried and then succeed (stock released by
		// another failed saga meanwhile): a 200 is the answer that sticks.
		if o.answers[order] != 200 {
			o.answers[order] = code
		}
	default:
		o.unexpected = append(o.unexpected, "order "+order+": "+err.Error())
	}
}

// checkoutAll checks every order out with `callers` concurrent clients. Each
// order is checked out `times` times by different callers at once. With retry,
// a caller that gets 5xx or a network error tries again until it gets an
// answer or ctx ends.
func checkoutAll(ctx context.Context, out *outcome, orders []string, callers, times int, retry bool) {
	var wg sync.WaitGroup
	next := make(chan string)
	for range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for id := range next {
				for {
					code, err := client.Checkout(ctx, id)
					out.record(id, code, err)
					if !retry || !errors.Is(err, shopclient.ErrUnavailable) || ctx.Err() != nil {
						break
					}
					time.Sleep(200 * time.Millisecond)
				}
			}
		}()
	}
	for range times {
		for _, id := range orders {
			next <- id
		}
	}
	close(next)
	wg.Wait()
}

// audit fails the test when the shop's balance or the answers are wrong.
func audit(t *testing.T, w workload, out *outcome) shopclient.Audit {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	a, err := client.RunAudit(ctx, shopclient.AuditScope{Before: w.before, Orders: w.orders, Answers: out.answers})
	if err != nil {
		t.Fatalf("audit: %v", err)
	}
	for _, p := range append(out.unexpected, a.Problems...) {
		t.Error(p)
	}
	t.Logf("paid %d of %d orders; stock value taken %d, credit taken %d, paid total %d; %d unavailable answers retried",
		a.PaidOrders, len(w.orders), a.StockValueTaken, a.CreditTaken, a.PaidTotal, out.unavailable)
	return a
}
