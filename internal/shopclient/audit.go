package shopclient

import (
	"context"
	"fmt"
	"maps"
	"slices"
)

// auditReaders is how many reads an audit has in flight.
const auditReaders = 32

// Audit is the money-and-stock balance of a run: what left the stock (valued
// at item prices), what left the users' credit, and what the paid orders cost.
// A correct shop has all three equal.
type Audit struct {
	StockValueTaken int64
	CreditTaken     int64
	PaidTotal       int64
	PaidOrders      int
	// Problems lists every broken rule found; empty means consistent.
	Problems []string
}

// Consistent reports whether the audit found nothing wrong.
func (a Audit) Consistent() bool { return len(a.Problems) == 0 }

func (a *Audit) problem(format string, args ...any) {
	a.Problems = append(a.Problems, fmt.Sprintf(format, args...))
}

// Before is the state a run starts from.
type Before struct {
	Items  map[string]Item  // stock and price of every item
	Credit map[string]int64 // credit of every user
}

// RunAudit reads the shop's state now and checks it against before and the
// answers checkouts got (order id → last definitive status; orders without a
// definitive answer are left out of answers).
func (c *Client) RunAudit(ctx context.Context, before Before, orders []string, answers map[string]int) (Audit, error) {
	var a Audit
	items, err := ReadAll(ctx, slices.Collect(maps.Keys(before.Items)), auditReaders, c.FindItem)
	if err != nil {
		return a, err
	}
	users, err := ReadAll(ctx, slices.Collect(maps.Keys(before.Credit)), auditReaders, c.FindUser)
	if err != nil {
		return a, err
	}
	found, err := ReadAll(ctx, orders, auditReaders, c.FindOrder)
	if err != nil {
		return a, err
	}
	for id, b := range before.Items {
		now := items[id]
		if now.Stock < 0 {
			a.problem("item %s has negative stock %d", id, now.Stock)
		}
		if now.Stock > b.Stock {
			a.problem("item %s gained stock: %d → %d", id, b.Stock, now.Stock)
		}
		a.StockValueTaken += (b.Stock - now.Stock) * b.Price
	}
	for id, b := range before.Credit {
		now := users[id].Credit
		if now < 0 {
			a.problem("user %s has negative credit %d", id, now)
		}
		if now > b {
			a.problem("user %s gained credit: %d → %d", id, b, now)
		}
		a.CreditTaken += b - now
	}
	for _, id := range orders {
		o := found[id]
		if o.Paid {
			a.PaidOrders++
			a.PaidTotal += o.TotalCost
		}
		switch code, ok := answers[id]; {
		case !ok:
		case code == 200 && !o.Paid:
			a.problem("order %s answered 200 but is not paid", id)
		case code >= 400 && code < 500 && o.Paid:
			a.problem("order %s answered %d but is paid", id, code)
		}
	}
	if a.StockValueTaken != a.CreditTaken || a.CreditTaken != a.PaidTotal {
		a.problem("stock value taken %d, credit taken %d, paid orders' total %d: all three must be equal",
			a.StockValueTaken, a.CreditTaken, a.PaidTotal)
	}
	return a, nil
}
