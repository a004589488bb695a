package loadtest

import (
	"context"
	"maps"
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/wdm-knative/webshop/internal/shopclient"
)

// Scenario is one task set of the 2023 course benchmark (its locustfile's
// LoadTest1..6): a sequence of calls on items, a user and an order that the
// scenario makes itself.
type Scenario struct {
	Name   string
	Weight int
	run    func(s *session) error
}

// MixedScenarios are the 2023 scenarios with the locustfile's weights.
// Prices are 1–10, stock added 100–1000, funds added 10,000–100,000, as
// there; its 2023 routes are used (addItem without quantity, DELETE
// removeItem).
var MixedScenarios = []Scenario{
	{"admin_creates_item", 5, func(s *session) error {
		return s.chain(s.createItem, s.addStock(0))
	}},
	{"one_item_checkout", 30, func(s *session) error {
		return s.chain(s.createItem, s.addStock(0), s.createUser, s.addFunds,
			s.createOrder, s.addItem(0), s.checkout(false))
	}},
	{"two_item_checkout", 25, func(s *session) error {
		return s.chain(s.createItem, s.createItem, s.addStock(0), s.addStock(1), s.createUser, s.addFunds,
			s.createOrder, s.addItem(0), s.addItem(1), s.checkout(false))
	}},
	{"add_remove_add_checkout", 20, func(s *session) error {
		return s.chain(s.createItem, s.addStock(0), s.createUser, s.addFunds,
			s.createOrder, s.addItem(0), s.removeItem(0), s.addItem(0), s.checkout(false))
	}},
	// The second item never gets stock.
	{"must_fail_stock", 10, func(s *session) error {
		return s.chain(s.createItem, s.createItem, s.addStock(0), s.createUser, s.addFunds,
			s.createOrder, s.addItem(0), s.addItem(1), s.checkout(true))
	}},
	// The user never gets funds.
	{"must_fail_credit", 10, func(s *session) error {
		return s.chain(s.createItem, s.addStock(0), s.createUser,
			s.createOrder, s.addItem(0), s.checkout(true))
	}},
}

// pickScenario maps x in [0, sum of weights) to a scenario index, each
// scenario getting as many values of x as its weight.
func pickScenario(scenarios []Scenario, x int) int {
	for i, sc := range scenarios {
		if x < sc.Weight {
			return i
		}
		x -= sc.Weight
	}
	return len(scenarios) - 1
}

func totalWeight(scenarios []Scenario) int {
	n := 0
	for _, sc := range scenarios {
		n += sc.Weight
	}
	return n
}

// mixed runs the 2023 scenarios, each round one picked by weight.
type mixed struct {
	scenarios []Scenario
	total     int
	started   []atomic.Uint64
	completed []atomic.Uint64
	orders    *orderBook
	auditConc int

	mu      sync.Mutex
	before  shopclient.Before // every item and user made, as made
	created []string          // every order made
}

func newMixed(auditConc int) *mixed {
	return &mixed{auditConc: auditConc,
		scenarios: MixedScenarios, total: totalWeight(MixedScenarios),
		started: make([]atomic.Uint64, len(MixedScenarios)), completed: make([]atomic.Uint64, len(MixedScenarios)),
		orders: newOrderBook(),
		before: shopclient.Before{Items: map[string]shopclient.Item{}, Credit: map[string]int64{}},
	}
}

func (w *mixed) book() *orderBook { return w.orders }

// setup: the 2023 scenarios make what they use.
func (w *mixed) setup(context.Context, *shopclient.Client) error { return nil }

func (w *mixed) iterate(ctx context.Context, k *caller, r *rand.Rand) {
	i := pickScenario(w.scenarios, r.IntN(w.total))
	w.started[i].Add(1)
	s := &session{ctx: ctx, k: k, r: r, w: w}
	if w.scenarios[i].run(s) == nil {
		w.completed[i].Add(1)
	}
}

func (w *mixed) counts() map[string]ScenarioCounts {
	out := map[string]ScenarioCounts{}
	for i, sc := range w.scenarios {
		out[sc.Name] = ScenarioCounts{Weight: sc.Weight, Started: w.started[i].Load(), Completed: w.completed[i].Load()}
	}
	return out
}

func (w *mixed) audit(ctx context.Context, c *shopclient.Client) (AuditSummary, error) {
	w.mu.Lock()
	before := shopclient.Before{Items: maps.Clone(w.before.Items), Credit: maps.Clone(w.before.Credit)}
	orders := append([]string(nil), w.created...)
	w.mu.Unlock()
	return runAudit(ctx, c, "run-audit", before, orders, w.orders, w.auditConc)
}

// session is one run of a scenario: what it made so far. Its items and
// user belong to it alone, so what it recorded as their state stays true
// until its checkout.
type session struct {
	ctx   context.Context
	k     *caller
	r     *rand.Rand
	w     *mixed
	items []string
	user  string
	order string
}

// chain runs steps until one fails. A step that failed without a
// definitive answer has already taken what it touched out of the audit
// (its state is unknown); the scenario stops there, so nothing that uses
// it follows.
func (s *session) chain(steps ...func() error) error {
	for _, step := range steps {
		if err := step(); err != nil {
			return err
		}
	}
	return nil
}

func (s *session) createItem() error {
	price := 1 + s.r.Int64N(10)
	var a itemCreated
	if _, _, err := s.k.do(s.ctx, "POST", "/stock/item/create/"+strconv.FormatInt(price, 10), false, &a); err != nil {
		return err
	}
	s.items = append(s.items, a.ItemID)
	s.w.mu.Lock()
	s.w.before.Items[a.ItemID] = shopclient.Item{Stock: 0, Price: price}
	s.w.mu.Unlock()
	return nil
}

func (s *session) addStock(i int) func() error {
	return func() error {
		id := s.items[i]
		amount := 100 + s.r.Int64N(901)
		_, o, err := s.k.do(s.ctx, "POST", "/stock/add/"+id+"/"+strconv.FormatInt(amount, 10), false, nil)
		s.w.mu.Lock()
		defer s.w.mu.Unlock()
		switch {
		case err == nil:
			it := s.w.before.Items[id]
			it.Stock += amount
			s.w.before.Items[id] = it
		case !definitive(o):
			delete(s.w.before.Items, id)
		}
		return err
	}
}

func (s *session) createUser() error {
	var a userCreated
	if _, _, err := s.k.do(s.ctx, "POST", "/payment/create_user", false, &a); err != nil {
		return err
	}
	s.user = a.UserID
	s.w.mu.Lock()
	s.w.before.Credit[a.UserID] = 0
	s.w.mu.Unlock()
	return nil
}

func (s *session) addFunds() error {
	amount := 10_000 + s.r.Int64N(90_001)
	_, o, err := s.k.do(s.ctx, "POST", "/payment/add_funds/"+s.user+"/"+strconv.FormatInt(amount, 10), false, nil)
	s.w.mu.Lock()
	defer s.w.mu.Unlock()
	switch {
	case err == nil:
		s.w.before.Credit[s.user] += amount
	case !definitive(o):
		delete(s.w.before.Credit, s.user)
	}
	return err
}

func (s *session) createOrder() error {
	var a orderCreated
	if _, _, err := s.k.do(s.ctx, "POST", "/orders/create/"+s.user, false, &a); err != nil {
		return err
	}
	s.order = a.OrderID
	s.w.mu.Lock()
	s.w.created = append(s.w.created, a.OrderID)
	s.w.mu.Unlock()
	return nil
}

func (s *session) addItem(i int) func() error {
	return func() error {
		_, _, err := s.k.do(s.ctx, "POST", "/orders/addItem/"+s.order+"/"+s.items[i], false, nil)
		return err
	}
}

func (s *session) removeItem(i int) func() error {
	return func() error {
		_, _, err := s.k.do(s.ctx, "DELETE", "/orders/removeItem/"+s.order+"/"+s.items[i], false, nil)
		return err
	}
}

func (s *session) checkout(mustFail bool) func() error {
	return func() error {
		code, o, err := s.k.do(s.ctx, "POST", "/orders/checkout/"+s.order, mustFail, nil)
		if err != errStopped {
			s.w.orders.checkedOut(s.order, code, o)
		}
		return err
	}
}
