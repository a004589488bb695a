package loadtest

import (
	"context"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/wdm-knative/webshop/internal/shopclient"
)

// Scenario is one task set of the 2023 course benchmark (its locustfile's
// LoadTest1..6): a sequence of calls on items, a user and an order that the
// scenario makes itself.
type Scenario struct {
	Name   string `json:"name"`
	Weight int    `json:"weight"`
	Steps  []Step `json:"steps"`
}

// Step is one call of a scenario: an op of MixedOps, on the scenario's
// Item-th item where the op takes one.
type Step struct {
	Op       string `json:"op"`
	Item     int    `json:"item,omitempty"`
	MustFail bool   `json:"must_fail,omitempty"` // a checkout that must be refused
}

// Op is a call the scenarios make: its route as API.md writes it, and the
// range [low, high] each of its random parameters is drawn from.
type Op struct {
	Method string              `json:"method"`
	Route  string              `json:"route"`
	Params map[string][2]int64 `json:"params,omitempty"`
}

// MixedScenarios and MixedOps are the mixed workload as
// knative/loadtest/workload.json defines it for both load clients (the
// Locust one reads that file; a test holds these to it). Prices are 1–10,
// stock added 100–1000, funds added 10,000–100,000, as in 2023; its routes
// are used (addItem without quantity, DELETE removeItem).
var (
	MixedScenarios = []Scenario{
		{"admin_creates_item", 5, []Step{{Op: "create_item"}, {Op: "add_stock"}}},
		{"one_item_checkout", 30, []Step{{Op: "create_item"}, {Op: "add_stock"}, {Op: "create_user"}, {Op: "add_funds"},
			{Op: "create_order"}, {Op: "add_item"}, {Op: "checkout"}}},
		{"two_item_checkout", 25, []Step{{Op: "create_item"}, {Op: "create_item"}, {Op: "add_stock"}, {Op: "add_stock", Item: 1},
			{Op: "create_user"}, {Op: "add_funds"}, {Op: "create_order"}, {Op: "add_item"}, {Op: "add_item", Item: 1}, {Op: "checkout"}}},
		{"add_remove_add_checkout", 20, []Step{{Op: "create_item"}, {Op: "add_stock"}, {Op: "create_user"}, {Op: "add_funds"},
			{Op: "create_order"}, {Op: "add_item"}, {Op: "remove_item"}, {Op: "add_item"}, {Op: "checkout"}}},
		// The second item never gets stock.
		{"must_fail_stock", 10, []Step{{Op: "create_item"}, {Op: "create_item"}, {Op: "add_stock"}, {Op: "create_user"}, {Op: "add_funds"},
			{Op: "create_order"}, {Op: "add_item"}, {Op: "add_item", Item: 1}, {Op: "checkout", MustFail: true}}},
		// The user never gets funds.
		{"must_fail_credit", 10, []Step{{Op: "create_item"}, {Op: "add_stock"}, {Op: "create_user"},
			{Op: "create_order"}, {Op: "add_item"}, {Op: "checkout", MustFail: true}}},
	}
	MixedOps = map[string]Op{
		"create_item":  {"POST", "/stock/item/create/{price}", map[string][2]int64{"price": {1, 10}}},
		"add_stock":    {"POST", "/stock/add/{item_id}/{amount}", map[string][2]int64{"amount": {100, 1000}}},
		"create_user":  {"POST", "/payment/create_user", nil},
		"add_funds":    {"POST", "/payment/add_funds/{user_id}/{amount}", map[string][2]int64{"amount": {10_000, 100_000}}},
		"create_order": {"POST", "/orders/create/{user_id}", nil},
		"add_item":     {"POST", "/orders/addItem/{order_id}/{item_id}", nil},
		"remove_item":  {"DELETE", "/orders/removeItem/{order_id}/{item_id}", nil},
		"checkout":     {"POST", "/orders/checkout/{order_id}", nil},
	}
)

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
	if s.run(w.scenarios[i].Steps) == nil {
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

// run runs steps until one fails. A step that failed without a
// definitive answer has already taken what it touched out of the audit
// (its state is unknown); the scenario stops there, so nothing that uses
// it follows.
func (s *session) run(steps []Step) error {
	for _, st := range steps {
		if err := s.step(st); err != nil {
			return err
		}
	}
	return nil
}

func (s *session) step(st Step) error {
	switch st.Op {
	case "create_item":
		return s.createItem()
	case "add_stock":
		return s.addStock(st.Item)
	case "create_user":
		return s.createUser()
	case "add_funds":
		return s.addFunds()
	case "create_order":
		return s.createOrder()
	case "add_item", "remove_item":
		_, _, _, err := s.call(st.Op, st.Item, false, nil)
		return err
	case "checkout":
		code, _, o, err := s.call(st.Op, 0, st.MustFail, nil)
		if err != errStopped {
			s.w.orders.checkedOut(s.order, code, o)
		}
		return err
	}
	return fmt.Errorf("mixed workload: no op %q", st.Op)
}

// call sends op with the session's IDs (item: the index of the item it
// names, if it names one) and, for its random parameters, values drawn
// from their ranges, which params returns.
func (s *session) call(op string, item int, mustFail bool, out any) (code int, params map[string]int64, o Outcome, err error) {
	def := MixedOps[op]
	path := def.Route
	params = map[string]int64{}
	for _, name := range slices.Sorted(maps.Keys(def.Params)) {
		lo, hi := def.Params[name][0], def.Params[name][1]
		params[name] = lo + s.r.Int64N(hi-lo+1)
		path = strings.Replace(path, "{"+name+"}", strconv.FormatInt(params[name], 10), 1)
	}
	if strings.Contains(path, "{item_id}") {
		path = strings.Replace(path, "{item_id}", s.items[item], 1)
	}
	path = strings.Replace(strings.Replace(path, "{user_id}", s.user, 1), "{order_id}", s.order, 1)
	code, o, err = s.k.do(s.ctx, def.Method, path, mustFail, out)
	return code, params, o, err
}

func (s *session) createItem() error {
	var a itemCreated
	_, p, _, err := s.call("create_item", 0, false, &a)
	if err != nil {
		return err
	}
	s.items = append(s.items, a.ItemID)
	s.w.mu.Lock()
	s.w.before.Items[a.ItemID] = shopclient.Item{Stock: 0, Price: p["price"]}
	s.w.mu.Unlock()
	return nil
}

func (s *session) addStock(i int) error {
	id := s.items[i]
	_, p, o, err := s.call("add_stock", i, false, nil)
	s.w.mu.Lock()
	defer s.w.mu.Unlock()
	switch {
	case err == nil:
		it := s.w.before.Items[id]
		it.Stock += p["amount"]
		s.w.before.Items[id] = it
	case !definitive(o):
		delete(s.w.before.Items, id)
	}
	return err
}

func (s *session) createUser() error {
	var a userCreated
	if _, _, _, err := s.call("create_user", 0, false, &a); err != nil {
		return err
	}
	s.user = a.UserID
	s.w.mu.Lock()
	s.w.before.Credit[a.UserID] = 0
	s.w.mu.Unlock()
	return nil
}

func (s *session) addFunds() error {
	_, p, o, err := s.call("add_funds", 0, false, nil)
	s.w.mu.Lock()
	defer s.w.mu.Unlock()
	switch {
	case err == nil:
		s.w.before.Credit[s.user] += p["amount"]
	case !definitive(o):
		delete(s.w.before.Credit, s.user)
	}
	return err
}

func (s *session) createOrder() error {
	var a orderCreated
	if _, _, _, err := s.call("create_order", 0, false, &a); err != nil {
		return err
	}
	s.order = a.OrderID
	s.w.mu.Lock()
	s.w.created = append(s.w.created, a.OrderID)
	s.w.mu.Unlock()
	return nil
}
