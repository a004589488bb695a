package saga_test

// The checkout's integration tests: the HTTP checkout (saga.Checkout), the
// real order, stock and payment handlers on their own databases, and the
// saga's event handlers, joined by the eventtest broker. This is the one layer
// that tests the checkout's behaviour; the root package tests only that the
// function wires it, and e2e/ runs it through the whole local stack.

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/wdm-knative/webshop/functions/functiontest"
	"github.com/wdm-knative/webshop/functions/payment"
	"github.com/wdm-knative/webshop/functions/stock"
	"github.com/wdm-knative/webshop/internal/operation"
	"github.com/wdm-knative/webshop/local/eventtest"
	"github.com/wdm-knative/webshop/local/testenv"
	"github.com/wdm-knative/webshop/local/testenv/testserver"
	"github.com/wdm-knative/webshop/saga"
)

// sagaShop is the three domains over HTTP with the real checkout saga.
type sagaShop struct {
	orderURL, stockURL, paymentURL string
	broker                         *eventtest.Broker
	sagaEvents                     *saga.Events
	stockEvents                    *stock.Handlers
	paymentEvents                  *payment.Handlers
	orderDB                        *pgxpool.Pool
}

func newSagaShop(t *testing.T, timeout time.Duration, opts ...eventtest.Option) *sagaShop {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	stockSrv, paymentSrv := testserver.Stock(t), testserver.Payment(t)
	s := &sagaShop{stockURL: stockSrv.URL, paymentURL: paymentSrv.URL}
	orderSrv := testserver.Order(t, stockSrv, paymentSrv, func(orderDB *pgxpool.Pool, log *slog.Logger, ops map[string]http.Handler) {
		// Created after the pools, so its cleanup (waiting for deliveries
		// in flight) runs before they close.
		s.broker = eventtest.New(t, append([]eventtest.Option{eventtest.Async()}, opts...)...)
		s.orderDB = orderDB
		sagas := saga.NewStore(orderDB)
		outcomes := saga.NewOutcomes(orderDB.Config().ConnString(), sagas, log)
		go outcomes.Run(ctx)
		sagaOpts := saga.Options{CheckoutTimeout: timeout, StallAfter: time.Millisecond, Deadline: time.Hour}
		s.sagaEvents = saga.NewEvents(sagas, s.broker, sagaOpts, log)
		s.stockEvents = stock.NewHandlers(stockSrv.DB, log)
		s.paymentEvents = payment.NewHandlers(paymentSrv.DB, log)
		s.broker.SubscribeAll(s.stockEvents.EventOperations())
		s.broker.SubscribeAll(s.paymentEvents.EventOperations())
		s.broker.SubscribeAll(s.sagaEvents.Operations())
		checkout := saga.NewCheckout(sagas, outcomes, s.broker, sagaOpts, log)
		t.Cleanup(func() { _ = checkout.Wait(context.Background()) }) // its sends, before the broker goes
		ops[operation.OrderCheckout] = checkout
	})
	s.orderURL = orderSrv.URL
	return s
}

// call sends a request and decodes its JSON answer.
var call = testenv.CallJSON

// must is call that fails the test unless the answer is 200.
var must = testenv.MustJSON

func (s *sagaShop) item(t *testing.T, price, stock int64) string {
	t.Helper()
	return functiontest.NewItem(t, s.stockURL, price, stock)
}

func (s *sagaShop) user(t *testing.T, credit int64) string {
	t.Helper()
	return functiontest.NewUser(t, s.paymentURL, credit)
}

func (s *sagaShop) order(t *testing.T, user string, items map[string]int64) string {
	t.Helper()
	return functiontest.NewOrder(t, s.orderURL, user, items)
}

func (s *sagaShop) stockOf(t *testing.T, item string) int64 {
	t.Helper()
	return int64(must(t, "GET", s.stockURL+"/stock/find/"+item)["stock"].(float64))
}

func (s *sagaShop) creditOf(t *testing.T, user string) int64 {
	t.Helper()
	return int64(must(t, "GET", s.paymentURL+"/payment/find_user/"+user)["credit"].(float64))
}

func (s *sagaShop) checkout(t *testing.T, orderID string) int {
	t.Helper()
	code, _ := call(t, "POST", s.orderURL+"/orders/checkout/"+orderID)
	return code
}

func TestCheckout(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name         string
		stock        int64 // of the one item, price 5; the order takes 2
		credit       int64
		want         int
		wantStock    int64 // read right after the answer
		wantCredit   int64
		fundAndRetry bool // add 100 credit and stock, then check out again: 200
	}{
		{"paid", 2, 20, http.StatusOK, 0, 10, false},
		{"not enough stock", 1, 20, http.StatusBadRequest, 1, 20, true},
		{"not enough credit", 5, 9, http.StatusBadRequest, 5, 9, true},
		{"neither", 0, 0, http.StatusBadRequest, 0, 0, true},
	}
	for _, twice := range []bool{false, true} {
		for _, c := range cases {
			t.Run(fmt.Sprintf("%s/duplicates=%v", c.name, twice), func(t *testing.T) {
				var opts []eventtest.Option
				if twice {
					opts = append(opts, eventtest.Duplicates(1))
				}
				s := newSagaShop(t, 10*time.Second, opts...)
				item, user := s.item(t, 5, c.stock), s.user(t, c.credit)
				o := s.order(t, user, map[string]int64{item: 2})
				if got := s.checkout(t, o); got != c.want {
					t.Fatalf("checkout = %d, want %d", got, c.want)
				}
				// 4xx only once everything taken was given back.
				if st, cr := s.stockOf(t, item), s.creditOf(t, user); st != c.wantStock || cr != c.wantCredit {
					t.Errorf("right after the answer: stock %d credit %d, want %d %d", st, cr, c.wantStock, c.wantCredit)
				}
				if c.fundAndRetry {
					must(t, "POST", fmt.Sprintf("%s/payment/add_funds/%s/100", s.paymentURL, user))
					must(t, "POST", fmt.Sprintf("%s/stock/add/%s/100", s.stockURL, item))
					if got := s.checkout(t, o); got != http.StatusOK {
						t.Fatalf("retry after funding = %d, want 200", got)
					}
				}
				paid := c.want == http.StatusOK || c.fundAndRetry
				stockNow, creditNow := s.stockOf(t, item), s.creditOf(t, user)
				// Paying again takes nothing.
				if paid {
					if got := s.checkout(t, o); got != http.StatusOK {
						t.Errorf("checkout of a paid order = %d", got)
					}
					if s.stockOf(t, item) != stockNow || s.creditOf(t, user) != creditNow {
						t.Error("checkout of a paid order took something")
					}
					if code, _ := call(t, "POST", fmt.Sprintf("%s/orders/addItem/%s/%s/1", s.orderURL, o, item)); code != http.StatusBadRequest {
						t.Errorf("addItem to a paid order = %d, want 400", code)
					}
				}
				if got := must(t, "GET", s.orderURL+"/orders/find/"+o)["paid"]; got != paid {
					t.Errorf("order paid = %v, want %v", got, paid)
				}
			})
		}
	}
}

func TestCheckoutRefusals(t *testing.T) {
	t.Parallel()
	s := newSagaShop(t, time.Second)
	user := s.user(t, 10)
	empty := s.order(t, user, nil)
	cases := []struct {
		name  string
		order string
		want  int
	}{
		{"unknown order", "no-such-order", http.StatusNotFound},
		{"empty order", empty, http.StatusBadRequest},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, body := call(t, "POST", s.orderURL+"/orders/checkout/"+c.order)
			if code != c.want || body["error"] == nil {
				t.Errorf("checkout = %d %v, want %d with an error", code, body, c.want)
			}
		})
	}
}

// TestCheckoutConsistency is the course's consistency test in small: one
// item with stock 10, 30 users with credit 1, 30 one-item orders checked out
// at once (each twice): exactly 10 paid, and both callers of an order agree.
func TestCheckoutConsistency(t *testing.T) {
	t.Parallel()
	s := newSagaShop(t, 20*time.Second, eventtest.Duplicates(1))
	item := s.item(t, 1, 10)
	const n = 30
	users, orders := make([]string, n), make([]string, n)
	for i := range n {
		users[i] = s.user(t, 1)
		orders[i] = s.order(t, users[i], map[string]int64{item: 1})
	}
	codes := make([][2]int, n)
	var wg sync.WaitGroup
	for i := range n {
		for k := range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				codes[i][k] = s.checkout(t, orders[i])
			}()
		}
	}
	wg.Wait()
	var ok, credit int64
	for i := range n {
		if codes[i][0] != codes[i][1] {
			t.Errorf("order %d: callers got %v", i, codes[i])
		}
		paid := must(t, "GET", s.orderURL+"/orders/find/"+orders[i])["paid"] == true
		if (codes[i][0] == http.StatusOK) != paid {
			t.Errorf("order %d answered %d, paid=%v", i, codes[i][0], paid)
		}
		if codes[i][0] == http.StatusOK {
			ok++
		}
		credit += s.creditOf(t, users[i])
	}
	if ok != 10 || s.stockOf(t, item) != 0 || credit != n-10 {
		t.Errorf("%d paid (want 10), stock %d (want 0), credit %d (want %d)", ok, s.stockOf(t, item), credit, n-10)
	}
}

// TestCheckoutBrokerDown: the request cannot be sent, the caller gets 503
// (never a wrong 200/400), the sweep re-sends, and a retry joins the saga.
func TestCheckoutBrokerDown(t *testing.T) {
	t.Parallel()
	s := newSagaShop(t, 300*time.Millisecond)
	item, user := s.item(t, 1, 5), s.user(t, 5)
	o := s.order(t, user, map[string]int64{item: 1})
	s.broker.SetDown(true)
	if got := s.checkout(t, o); got != http.StatusServiceUnavailable {
		t.Fatalf("checkout with the broker down = %d, want 503", got)
	}
	if code, _ := call(t, "POST", fmt.Sprintf("%s/orders/addItem/%s/%s/1", s.orderURL, o, item)); code != http.StatusBadRequest {
		t.Errorf("addItem while checking out = %d, want 400", code)
	}
	s.broker.SetDown(false)
	if err := s.sagaEvents.Sweep(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := s.checkout(t, o); got != http.StatusOK {
		t.Errorf("retry = %d, want 200", got)
	}
	if n := s.count(t, `SELECT count(*) FROM sagas`); n != 1 {
		t.Errorf("%d sagas, want the retry to join the first", n)
	}
	if s.stockOf(t, item) != 4 || s.creditOf(t, user) != 4 {
		t.Errorf("stock %d credit %d, want 4 4", s.stockOf(t, item), s.creditOf(t, user))
	}
}

func (s *sagaShop) count(t *testing.T, sql string) int64 {
	t.Helper()
	var n int64
	if err := s.orderDB.QueryRow(context.Background(), sql).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestLostReplyRedrivenToPaid loses the stock reply of a saga whose steps
// both succeeded: the saga's own sweep ticker (not a ping) re-sends the
// request well before the deadline, the participants answer from their
// ledgers, and the saga ends paid with everything taken once.
func TestLostReplyRedrivenToPaid(t *testing.T) {
	t.Parallel()
	s := newSagaShop(t, 10*time.Second)
	item, user := s.item(t, 3, 5), s.user(t, 10)
	o := s.order(t, user, map[string]int64{item: 1})

	// Begin the saga by hand and deliver its request to both participants,
	// but hand the saga only the payment's reply: the stock reply is lost.
	ctx := context.Background()
	log := slog.New(slog.DiscardHandler)
	sagas := saga.NewStore(s.orderDB)
	b, err := sagas.Begin(ctx, o, saga.NewSagaID())
	if err != nil || !b.Created {
		t.Fatalf("Begin = %+v, %v", b, err)
	}
	req, err := saga.RequestedEvent(b.Saga)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.stockEvents.EventOperations()[operation.StockReserve](ctx, req); err != nil {
		t.Fatal(err)
	}
	debited, err := s.paymentEvents.EventOperations()[operation.PaymentDebit](ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.sagaEvents.OnReply(ctx, *debited); err != nil {
		t.Fatal(err)
	}

	// The saga's ticker, as the saga-sweep process runs it.
	sweeper := saga.NewEvents(sagas, s.broker, saga.Options{
		StallAfter: 200 * time.Millisecond, SweepEvery: 100 * time.Millisecond, Deadline: time.Minute}, log)
	sweepCtx, stop := context.WithCancel(ctx)
	defer stop()
	go sweeper.RunSweeps(sweepCtx)

	deadline := time.Now().Add(10 * time.Second)
	for {
		sg, err := sagas.Get(ctx, b.Saga.ID)
		if err != nil {
			t.Fatal(err)
		}
		if sg.State.Status == saga.Paid {
			break
		}
		if sg.State.Status != saga.Pending || time.Now().After(deadline) {
			t.Fatalf("saga %v, want it re-driven to paid", sg.State)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if st, cr := s.stockOf(t, item), s.creditOf(t, user); st != 4 || cr != 7 {
		t.Errorf("stock %d credit %d, want 4 and 7 (taken once)", st, cr)
	}
	if got := must(t, "GET", s.orderURL+"/orders/find/"+o)["paid"]; got != true {
		t.Errorf("order paid = %v", got)
	}
}
