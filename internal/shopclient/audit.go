package shopclient

import (
	"context"
	"fmt"
	"maps"
	"slices"
)

// Refused reports whether a checkout's status is a definitive refusal: a
// 4xx, after which nothing of the order is taken. A 5xx or no answer is not
// one: the saga may still run and pay the order. The audit, the load client
// and the end-to-end tests all judge answers by this one rule.
func Refused(status int) bool { return status >= 400 && status < 500 }

// Audit is the money-and-stock balance of a run: what left the stock (valued
// at item prices), what left the users' credit, and what the paid orders cost.
// A correct shop has all three equal, row by row as well as in sum.
type Audit struct {
	StockValueTaken int64
	CreditTaken     int64
	PaidTotal       int64
	PaidOrders      int
	// OrdersRead, ItemsRead and UsersRead count the rows the audit read.
	OrdersRead, ItemsRead, UsersRead int
	// Problems lists every broken rule found (the first maxProblems, then a
	// count); empty means consistent.
	Problems []string
	more     int
}

// Consistent reports whether the audit found nothing wrong.
func (a Audit) Consistent() bool { return len(a.Problems) == 0 }

// maxProblems bounds the list: a broken shop can break every one of
// 100,000 rows, and the first few say what is wrong.
const maxProblems = 200

func (a *Audit) problem(format string, args ...any) {
	if len(a.Problems) < maxProblems {
		a.Problems = append(a.Problems, fmt.Sprintf(format, args...))
		return
	}
	a.more++
}

// Before is the state a run starts from.
type Before struct {
	Items  map[string]Item  // stock and price of every item listed
	Credit map[string]int64 // credit of every user listed
	// Uniform, when set, is the state of every item and user not listed:
	// batch_init gives 100,000 rows the same state, and the audit then reads
	// only the listed rows and those the orders name.
	Uniform *Uniform
}

// Uniform is the one state batch_init gives every item and user.
type Uniform struct {
	Stock, Price, Credit int64
}

func (b Before) item(id string) (Item, bool) {
	if it, ok := b.Items[id]; ok {
		return it, true
	}
	if b.Uniform != nil {
		return Item{Stock: b.Uniform.Stock, Price: b.Uniform.Price}, true
	}
	return Item{}, false
}

func (b Before) credit(id string) (int64, bool) {
	if c, ok := b.Credit[id]; ok {
		return c, true
	}
	if b.Uniform != nil {
		return b.Uniform.Credit, true
	}
	return 0, false
}

// AuditScope says what an audit reads and what it holds the shop to.
type AuditScope struct {
	Before Before
	// Orders are every order the run made or checked out: every change of
	// stock and credit since Before must belong to a paid one of them.
	Orders []string
	// Answers: order id → the last definitive checkout status (200 if any
	// checkout of it got 200); orders without one are left out.
	Answers map[string]int
	// Readers is how many reads are in flight (default 32).
	Readers int
}

// RunAudit reads the orders, every item and user of Before and every item
// and user the orders name, and checks them against Before and the answers:
//   - each order's total_cost is what its lines cost at the items' prices;
//   - no stock or credit is negative, no price changed;
//   - per item, the units taken are the units of paid orders; per user, the
//     credit taken is what the user's paid orders cost (so nothing gained);
//   - a checkout answered 200 left its order paid, one refused left it unpaid;
//   - stock value taken = credit taken = paid orders' total.
func (c *Client) RunAudit(ctx context.Context, s AuditScope) (Audit, error) {
	var a Audit
	readers := s.Readers
	if readers < 1 {
		readers = 32
	}
	orders, err := ReadAll(ctx, s.Orders, readers, c.FindOrder)
	if err != nil {
		return a, fmt.Errorf("reading orders: %w", err)
	}
	a.OrdersRead = len(orders)
	// What the paid orders say was taken; every listed or named row has an
	// entry, so that rows nothing should have touched are checked too.
	wantStock := make(map[string]int64, len(s.Before.Items))
	wantCredit := make(map[string]int64, len(s.Before.Credit))
	for id := range s.Before.Items {
		wantStock[id] = 0
	}
	for id := range s.Before.Credit {
		wantCredit[id] = 0
	}
	for _, id := range s.Orders {
		o := orders[id]
		lines, err := parseLines(o.Items)
		if err != nil {
			a.problem("order %s: %v", id, err)
			continue
		}
		var cost int64
		for _, l := range lines {
			it, known := s.Before.item(l.ItemID)
			if !known {
				a.problem("order %s names item %s, whose starting state the audit was not given", id, l.ItemID)
			}
			cost += l.Quantity * it.Price
			wantStock[l.ItemID] += 0
		}
		if cost != o.TotalCost {
			a.problem("order %s: total_cost %d, but its items cost %d", id, o.TotalCost, cost)
		}
		wantCredit[o.UserID] += 0
		if o.Paid {
			a.PaidOrders++
			a.PaidTotal += o.TotalCost
			wantCredit[o.UserID] += o.TotalCost
			for _, l := range lines {
				wantStock[l.ItemID] += l.Quantity
			}
		}
		switch code, ok := s.Answers[id]; {
		case !ok:
		case code == 200 && !o.Paid:
			a.problem("order %s answered 200 but is not paid", id)
		case Refused(code) && o.Paid:
			a.problem("order %s answered %d but is paid", id, code)
		}
	}

	items, err := ReadAll(ctx, slices.Sorted(maps.Keys(wantStock)), readers, c.FindItem)
	if err != nil {
		return a, fmt.Errorf("reading items: %w", err)
	}
	a.ItemsRead = len(items)
	for _, id := range slices.Sorted(maps.Keys(wantStock)) {
		b, known := s.Before.item(id)
		if !known {
			continue // reported with the order that names it
		}
		now := items[id]
		taken := b.Stock - now.Stock
		a.StockValueTaken += taken * b.Price
		if now.Stock < 0 {
			a.problem("item %s has negative stock %d", id, now.Stock)
		}
		if now.Price != b.Price {
			a.problem("item %s: price %d, was %d", id, now.Price, b.Price)
		}
		switch want := wantStock[id]; {
		case taken < 0:
			a.problem("item %s gained stock: %d → %d", id, b.Stock, now.Stock)
		case taken != want:
			a.problem("item %s: %d units taken, paid orders hold %d", id, taken, want)
		}
	}

	users, err := ReadAll(ctx, slices.Sorted(maps.Keys(wantCredit)), readers, c.FindUser)
	if err != nil {
		return a, fmt.Errorf("reading users: %w", err)
	}
	a.UsersRead = len(users)
	for _, id := range slices.Sorted(maps.Keys(wantCredit)) {
		b, known := s.Before.credit(id)
		if !known {
			a.problem("user %s has orders, but the audit was not given its starting credit", id)
			continue
		}
		now := users[id].Credit
		taken := b - now
		a.CreditTaken += taken
		if now < 0 {
			a.problem("user %s has negative credit %d", id, now)
		}
		switch want := wantCredit[id]; {
		case taken < 0:
			a.problem("user %s gained credit: %d → %d", id, b, now)
		case taken != want:
			a.problem("user %s: credit taken %d, paid orders cost %d", id, taken, want)
		}
	}

	if a.StockValueTaken != a.CreditTaken || a.CreditTaken != a.PaidTotal {
		a.problem("stock value taken %d, credit taken %d, paid orders' total %d: all three must be equal",
			a.StockValueTaken, a.CreditTaken, a.PaidTotal)
	}
	if a.more > 0 {
		a.Problems = append(a.Problems, fmt.Sprintf("... and %d more problems", a.more))
	}
	return a, nil
}

// parseLines reads an order's items, [[item_id, quantity], ...].
func parseLines(items [][]any) ([]Line, error) {
	out := make([]Line, 0, len(items))
	for _, it := range items {
		if len(it) != 2 {
			return nil, fmt.Errorf("item line %v is not [item_id, quantity]", it)
		}
		id, ok1 := it[0].(string)
		q, ok2 := it[1].(float64)
		if !ok1 || !ok2 || q < 1 || q != float64(int64(q)) {
			return nil, fmt.Errorf("item line %v is not [item_id, quantity]", it)
		}
		out = append(out, Line{ItemID: id, Quantity: int64(q)})
	}
	return out, nil
}
