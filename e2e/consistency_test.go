package e2e

import (
	"context"
	"math/rand/v2"
	"testing"
	"time"
)

// The course's consistency test: 1 item with stock 100 and price 1, 1000
// users with credit 1, one order of that item each, all checked out at once.
func TestCourseConsistency(t *testing.T) {
	w := build(t, shape{
		items: 1, users: 1000, orders: 1000,
		stock: fixed[int64](100), price: fixed[int64](1), credit: fixed[int64](1),
		lines: fixed(1), quantity: fixed[int64](1),
	}, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	out := newOutcome()
	checkoutAll(ctx, out, w.orders, 1000, 1, false)
	if out.unavailable > 0 {
		t.Errorf("%d checkouts answered 5xx or failed without a fault", out.unavailable)
	}
	a := audit(t, w, out)
	ok := 0
	for _, code := range out.answers {
		if code == 200 {
			ok++
		}
	}
	if ok != 100 || a.PaidOrders != 100 {
		t.Errorf("%d checkouts answered 200 and %d orders are paid; want 100 and 100", ok, a.PaidOrders)
	}
	if a.StockValueTaken != 100 || a.CreditTaken != 100 {
		t.Errorf("stock taken %d, credit taken %d; want 100 each (stock 0, total credit 900)", a.StockValueTaken, a.CreditTaken)
	}
	checkOutcomeEvents(t, w, out)
}

// Many items, multi-item orders, random quantities, some users short of
// credit, and every order checked out twice at once (one saga, one outcome).
func TestConsistencyManyItems(t *testing.T) {
	w := build(t, manyItems(600), 2)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	out := newOutcome()
	checkoutAll(ctx, out, w.orders, 256, 2, false)
	if out.unavailable > 0 {
		t.Errorf("%d checkouts answered 5xx or failed without a fault", out.unavailable)
	}
	if len(out.answers) != len(w.orders) {
		t.Errorf("%d of %d orders got an answer", len(out.answers), len(w.orders))
	}
	a := audit(t, w, out)
	if a.PaidOrders == 0 || a.PaidOrders == len(w.orders) {
		t.Errorf("%d of %d orders paid: the workload must mix successes and failures", a.PaidOrders, len(w.orders))
	}
	checkOutcomeEvents(t, w, out)
}

// manyItems is a workload where stock and credit run out for some orders.
func manyItems(orders int) shape {
	return shape{
		items: 40, users: 300, orders: orders,
		stock: between(5, 40), price: between(1, 9), credit: between(0, 60),
		lines: func(r *rand.Rand) int { return 1 + r.IntN(3) }, quantity: between(1, 3),
	}
}
