// Package consistency is the shop's consistency testing as functions of a
// client of the public API, so that one definition runs against the local
// stack (e2e) and through a real cluster's ingress (cluster/shop): workloads
// built through the API, concurrent checkouts, the audit of money and stock
// against the answers, and the ledger rules read from the databases.
package consistency

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/wdm-knative/webshop/internal/shopclient"
)

// Workload is a set of items, users and orders made through the API.
type Workload struct {
	Before shopclient.Before
	Orders []string
}

// Shape says how big a workload is and how scarce stock and credit are.
type Shape struct {
	Items, Users, Orders int
	Stock                func(r *rand.Rand) int64 // starting stock of an item
	Price                func(r *rand.Rand) int64
	Credit               func(r *rand.Rand) int64 // starting credit of a user
	Lines                func(r *rand.Rand) int   // distinct items in an order
	Quantity             func(r *rand.Rand) int64
}

// Fixed draws v every time.
func Fixed[T any](v T) func(*rand.Rand) T { return func(*rand.Rand) T { return v } }

// Between draws uniformly from [lo, hi].
func Between(lo, hi int64) func(*rand.Rand) int64 {
	return func(r *rand.Rand) int64 { return lo + r.Int64N(hi-lo+1) }
}

// CourseShape is the course's consistency test: 1 item with stock 100 and
// price 1, 1000 users with credit 1, one order of that item each.
func CourseShape() Shape {
	return Shape{
		Items: 1, Users: 1000, Orders: 1000,
		Stock: Fixed[int64](100), Price: Fixed[int64](1), Credit: Fixed[int64](1),
		Lines: Fixed(1), Quantity: Fixed[int64](1),
	}
}

// ManyItems is a workload where stock and credit run out for some orders:
// 40 items, 300 users, orders of 1 to 3 lines.
func ManyItems(orders int) Shape {
	return Shape{
		Items: 40, Users: 300, Orders: orders,
		Stock: Between(5, 40), Price: Between(1, 9), Credit: Between(0, 60),
		Lines: func(r *rand.Rand) int { return 1 + r.IntN(3) }, Quantity: Between(1, 3),
	}
}

// Build makes the workload through the public API, 32 calls at a time.
func Build(t testing.TB, c *shopclient.Client, s Shape, seed uint64) Workload {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	r := rand.New(rand.NewPCG(seed, 1))
	w := Workload{Before: shopclient.Before{Items: map[string]shopclient.Item{}, Credit: map[string]int64{}}}

	itemIDs := make([]string, s.Items)
	itemSpecs := make([]shopclient.Item, s.Items)
	for i := range itemSpecs {
		itemSpecs[i] = shopclient.Item{Stock: s.Stock(r), Price: s.Price(r)}
	}
	parallel(t, s.Items, func(i int) error {
		id, err := c.CreateItem(ctx, itemSpecs[i].Price, itemSpecs[i].Stock)
		itemIDs[i] = id
		return err
	})
	for i, id := range itemIDs {
		w.Before.Items[id] = itemSpecs[i]
	}

	userIDs := make([]string, s.Users)
	credits := make([]int64, s.Users)
	for i := range credits {
		credits[i] = s.Credit(r)
	}
	parallel(t, s.Users, func(i int) error {
		id, err := c.CreateUser(ctx, credits[i])
		userIDs[i] = id
		return err
	})
	for i, id := range userIDs {
		w.Before.Credit[id] = credits[i]
	}

	type plan struct {
		user  string
		lines []shopclient.Line
	}
	plans := make([]plan, s.Orders)
	for i := range plans {
		plans[i].user = userIDs[i%len(userIDs)] // round robin: the course gives each user one order
		for _, k := range r.Perm(len(itemIDs))[:min(s.Lines(r), len(itemIDs))] {
			plans[i].lines = append(plans[i].lines, shopclient.Line{ItemID: itemIDs[k], Quantity: s.Quantity(r)})
		}
	}
	w.Orders = make([]string, s.Orders)
	parallel(t, s.Orders, func(i int) error {
		id, err := c.CreateOrder(ctx, plans[i].user, plans[i].lines...)
		w.Orders[i] = id
		return err
	})
	return w
}

// parallel runs f for 0..n-1 with 32 callers and fails the test on an error.
func parallel(t testing.TB, n int, f func(i int) error) {
	t.Helper()
	err := shopclient.ForEach(context.Background(), n, 32, func(_ context.Context, i int) error { return f(i) })
	if err != nil {
		t.Fatalf("building the workload: %v", err)
	}
}

// Outcome is what the callers of one run saw. Read its fields once
// CheckoutAll has returned.
type Outcome struct {
	mu          sync.Mutex
	Answers     map[string]int // order → 200 if any caller got it, else 400 if one did
	Unavailable int            // 5xx and network errors seen (retried)
	Errors      []string       // the first few of those, to say what they were
	Unexpected  []string       // statuses that the contract does not allow
}

// NewOutcome returns an empty outcome.
func NewOutcome() *Outcome { return &Outcome{Answers: map[string]int{}} }

// Answered counts the orders that got a definitive answer so far.
func (o *Outcome) Answered() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.Answers)
}

func (o *Outcome) record(order string, code int, err error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	switch {
	case errors.Is(err, shopclient.ErrUnavailable):
		o.Unavailable++
		if len(o.Errors) < 5 {
			o.Errors = append(o.Errors, "order "+order+": "+err.Error())
		}
	case code == 200:
		o.Answers[order] = code
	case code == 400:
		// A failed checkout may be retried and then succeed (stock released by
		// another failed saga meanwhile): a 200 is the answer that sticks.
		if o.Answers[order] != 200 {
			o.Answers[order] = code
		}
	default:
		o.Unexpected = append(o.Unexpected, "order "+order+": "+err.Error())
	}
}

// CheckoutAll checks every order out with `callers` concurrent clients. Each
// order is checked out `times` times by different callers at once. With
// retry, a caller that gets 5xx or a network error tries again until it gets
// an answer or ctx ends.
func CheckoutAll(ctx context.Context, c *shopclient.Client, out *Outcome, orders []string, callers, times int, retry bool) {
	var wg sync.WaitGroup
	next := make(chan string)
	for range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for id := range next {
				for {
					code, err := c.Checkout(ctx, id)
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

// Audit fails the test when the shop's balance or the answers are wrong.
func Audit(t testing.TB, c *shopclient.Client, w Workload, out *Outcome) shopclient.Audit {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	a, err := c.RunAudit(ctx, shopclient.AuditScope{Before: w.Before, Orders: w.Orders, Answers: out.Answers})
	if err != nil {
		t.Fatalf("audit: %v", err)
	}
	for _, p := range append(out.Unexpected, a.Problems...) {
		t.Error(p)
	}
	t.Logf("paid %d of %d orders; stock value taken %d, credit taken %d, paid total %d; %d unavailable answers retried",
		a.PaidOrders, len(w.Orders), a.StockValueTaken, a.CreditTaken, a.PaidTotal, out.Unavailable)
	return a
}
