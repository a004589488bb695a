package loadtest

import (
	"context"
	"fmt"
	"maps"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/wdm-knative/webshop/internal/shopclient"
)

// workload is one kind of load: a setup that is not measured, the loop body
// every client repeats, and the audit after the run.
type workload interface {
	setup(ctx context.Context, c *shopclient.Client) error
	// iterate runs one round of a client; it returns when the round ends
	// (a failed step ends it early) or the run is stopped.
	iterate(ctx context.Context, k *caller, r *rand.Rand)
	book() *orderBook
	audit(ctx context.Context, c *shopclient.Client) (AuditSummary, error)
}

// Answer bodies of the calls the workloads make.
type (
	itemCreated struct {
		ItemID string `json:"item_id"`
	}
	userCreated struct {
		UserID string `json:"user_id"`
	}
	orderCreated struct {
		OrderID string `json:"order_id"`
	}
)

func (a *itemCreated) valid() bool  { return a.ItemID != "" }
func (a *userCreated) valid() bool  { return a.UserID != "" }
func (a *orderCreated) valid() bool { return a.OrderID != "" }

// flow: users and items made up front with plenty of stock and credit, then
// every client loops create order → add 1–2 items → checkout. Every
// checkout must succeed.
type flow struct {
	cfg    Config
	before shopclient.Before
	items  []string
	users  []string
	orders *orderBook

	mu      sync.Mutex
	created []string // every order the run made, for the audit
}

func newFlow(cfg Config) *flow {
	return &flow{cfg: cfg, orders: newOrderBook(),
		before: shopclient.Before{Items: map[string]shopclient.Item{}, Credit: map[string]int64{}}}
}

func (w *flow) book() *orderBook { return w.orders }

func (w *flow) setup(ctx context.Context, c *shopclient.Client) error {
	r := rand.New(rand.NewPCG(w.cfg.Seed, 0))
	prices := make([]int64, w.cfg.Items)
	for i := range prices {
		prices[i] = 1 + r.Int64N(10)
	}
	w.items = make([]string, w.cfg.Items)
	if err := shopclient.ForEach(ctx, w.cfg.Items, w.cfg.setupConc(), func(ctx context.Context, i int) error {
		id, err := c.CreateItem(ctx, prices[i], w.cfg.FlowStock)
		w.items[i] = id
		return err
	}); err != nil {
		return fmt.Errorf("creating items: %w", err)
	}
	for i, id := range w.items {
		w.before.Items[id] = shopclient.Item{Stock: w.cfg.FlowStock, Price: prices[i]}
	}
	w.users = make([]string, w.cfg.Users)
	if err := shopclient.ForEach(ctx, w.cfg.Users, w.cfg.setupConc(), func(ctx context.Context, i int) error {
		id, err := c.CreateUser(ctx, w.cfg.FlowCredit)
		w.users[i] = id
		return err
	}); err != nil {
		return fmt.Errorf("creating users: %w", err)
	}
	for _, id := range w.users {
		w.before.Credit[id] = w.cfg.FlowCredit
	}
	return nil
}

func (w *flow) iterate(ctx context.Context, k *caller, r *rand.Rand) {
	user := w.users[r.IntN(len(w.users))]
	var o orderCreated
	if _, _, err := k.do(ctx, "POST", "/orders/create/"+user, false, &o); err != nil {
		return
	}
	w.mu.Lock()
	w.created = append(w.created, o.OrderID)
	w.mu.Unlock()
	lines := 1 + r.IntN(2)
	first := r.IntN(len(w.items))
	for n := range lines {
		// Two distinct items: the second is any other than the first.
		i := first
		if n == 1 {
			i = (first + 1 + r.IntN(len(w.items)-1)) % len(w.items)
		}
		if _, _, err := k.do(ctx, "POST", "/orders/addItem/"+o.OrderID+"/"+w.items[i]+"/1", false, nil); err != nil {
			return
		}
	}
	code, out, err := k.do(ctx, "POST", "/orders/checkout/"+o.OrderID, false, nil)
	if err != errStopped {
		w.orders.checkedOut(o.OrderID, code, out)
	}
}

func (w *flow) audit(ctx context.Context, c *shopclient.Client) (AuditSummary, error) {
	w.mu.Lock()
	orders := append([]string(nil), w.created...)
	w.mu.Unlock()
	return runAudit(ctx, c, "run-audit", w.before, orders, w.orders, w.cfg.AuditConc)
}

// runAudit is shopclient.RunAudit of orders against before, with the
// answers the run's checkouts got; method names what was read.
func runAudit(ctx context.Context, c *shopclient.Client, method string, before shopclient.Before, orders []string, book *orderBook, readers int) (AuditSummary, error) {
	began := time.Now()
	book.mu.Lock()
	answers := maps.Clone(book.answers)
	book.mu.Unlock()
	a, err := c.RunAudit(ctx, shopclient.AuditScope{Before: before, Orders: orders, Answers: answers, Readers: readers})
	if err != nil {
		return AuditSummary{}, err
	}
	return AuditSummary{
		Method: method, StockValueTaken: a.StockValueTaken, CreditTaken: a.CreditTaken, PaidTotal: a.PaidTotal,
		PaidOrders: a.PaidOrders, OrdersRead: a.OrdersRead, ItemsRead: a.ItemsRead, UsersRead: a.UsersRead,
		DurationS: time.Since(began).Seconds(), Consistent: a.Consistent(), Problems: a.Problems,
	}, nil
}
