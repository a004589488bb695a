package saga

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/wdm-knative/webshop/functions/order"
	"github.com/wdm-knative/webshop/internal/eventhttp"
	"github.com/wdm-knative/webshop/internal/metrics"
	"github.com/wdm-knative/webshop/internal/metrics/metricstest"
	"github.com/wdm-knative/webshop/local/testenv/shopdb"
	"github.com/wdm-knative/webshop/schemas"
	"github.com/wdm-knative/webshop/schemas/schematest"
)

type fixture struct {
	t     *testing.T
	dsn   string
	pool  *pgxpool.Pool
	store *Store
	sink  *recordingSink
	ev    *Events
	reg   *prometheus.Registry // the saga's metrics
}

// recordingSink stands in for the broker's ingress.
type recordingSink struct {
	mu   sync.Mutex
	sent []event.Event
	fail bool
}

func (s *recordingSink) Send(_ context.Context, e event.Event) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail {
		return eventhttp.ErrNotAccepted
	}
	s.sent = append(s.sent, e)
	return nil
}

func (s *recordingSink) take() []event.Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := s.sent
	s.sent = nil
	return out
}

func quietLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func newFixture(t *testing.T) *fixture {
	t.Helper()
	pool := shopdb.Pool(t, "order", 0)
	store := NewStore(pool)
	sink := &recordingSink{}
	reg := prometheus.NewRegistry()
	ev := NewEvents(store, sink, Options{StallAfter: time.Second, Deadline: time.Minute, Batch: 2,
		Metrics: metrics.NewSaga(reg)}, quietLog())
	return &fixture{t: t, dsn: pool.Config().ConnString(), pool: pool, store: store, sink: sink, ev: ev, reg: reg}
}

// order creates an order with the given item quantities at price 3 each.
func (f *fixture) order(id string, quantities ...int64) {
	f.t.Helper()
	ctx := context.Background()
	var total int64
	for i, q := range quantities {
		if _, err := f.pool.Exec(ctx, `INSERT INTO orders (id, user_id) VALUES ($1, 'u') ON CONFLICT DO NOTHING`, id); err != nil {
			f.t.Fatal(err)
		}
		if _, err := f.pool.Exec(ctx, `INSERT INTO order_items VALUES ($1, $2, $3, 3)`, id, string(rune('a'+i)), q); err != nil {
			f.t.Fatal(err)
		}
		total += 3 * q
	}
	if _, err := f.pool.Exec(ctx, `INSERT INTO orders (id, user_id, total_cost) VALUES ($1, 'u', $2)
		ON CONFLICT (id) DO UPDATE SET total_cost = $2`, id, total); err != nil {
		f.t.Fatal(err)
	}
}

// begin creates order id with one item and begins its checkout saga.
func (f *fixture) begin(id string) Begun {
	f.t.Helper()
	f.order(id, 1)
	b, err := f.store.Begin(context.Background(), id, NewSagaID())
	if err != nil {
		f.t.Fatal(err)
	}
	return b
}

func (f *fixture) orderStatus(id string) string {
	f.t.Helper()
	var s string
	if err := f.pool.QueryRow(context.Background(), `SELECT status FROM orders WHERE id = $1`, id).Scan(&s); err != nil {
		f.t.Fatal(err)
	}
	return s
}

// reply builds a participant's reply for a saga.
func reply(sg Saga, typ string, reason schemas.Reason) event.Event {
	var d schemas.Data
	switch typ {
	case schemas.TypeStockReserved:
		d = schemas.StockReserved{SagaID: sg.ID, OrderID: sg.OrderID, Items: []schemas.Item{}}
	case schemas.TypeStockRejected:
		d = schemas.StockRejected{SagaID: sg.ID, OrderID: sg.OrderID, Reason: reason}
	case schemas.TypePaymentDebited:
		d = schemas.PaymentDebited{SagaID: sg.ID, OrderID: sg.OrderID, UserID: sg.UserID, Amount: sg.TotalCost}
	case schemas.TypePaymentRejected:
		d = schemas.PaymentRejected{SagaID: sg.ID, OrderID: sg.OrderID, UserID: sg.UserID, Reason: reason}
	case schemas.TypeStockReleased:
		d = schemas.StockReleased{SagaID: sg.ID, OrderID: sg.OrderID, Items: []schemas.Item{}}
	case schemas.TypePaymentRefunded:
		d = schemas.PaymentRefunded{SagaID: sg.ID, OrderID: sg.OrderID, UserID: sg.UserID}
	}
	e, err := schemas.New(sg.ID+"/"+typ, "/test", typ, d)
	if err != nil {
		panic(err)
	}
	return e
}

func TestBegin(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	f.order("o1", 2, 1)
	if _, err := f.pool.Exec(ctx, `INSERT INTO orders (id, user_id) VALUES ('empty', 'u'), ('done', 'u')`); err != nil {
		t.Fatal(err)
	}
	if _, err := f.pool.Exec(ctx, `UPDATE orders SET status = 'paid' WHERE id = 'done'`); err != nil {
		t.Fatal(err)
	}

	cases := []struct {
		name    string
		order   string
		wantErr error
		paid    bool
	}{
		{"unknown order", "nope", ErrOrderNotFound, false},
		{"empty order", "empty", ErrEmptyOrder, false},
		{"paid order takes nothing", "done", nil, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			co, err := f.store.Begin(ctx, c.order, NewSagaID())
			if !errors.Is(err, c.wantErr) || co.Paid != c.paid || co.Created {
				t.Errorf("Begin = %+v, %v; want paid=%v err=%v", co, err, c.paid, c.wantErr)
			}
		})
	}

	t.Run("creates then joins", func(t *testing.T) {
		first, err := f.store.Begin(ctx, "o1", NewSagaID())
		if err != nil || !first.Created {
			t.Fatalf("first Begin = %+v, %v", first, err)
		}
		sg := first.Saga
		if sg.State != Start || sg.TotalCost != 9 || len(sg.Items) != 2 || sg.Items[0] != (Item{"a", 2, 3}) || sg.UserID != "u" {
			t.Errorf("snapshot %+v", sg)
		}
		if got := f.orderStatus("o1"); got != "checking_out" {
			t.Errorf("order status %s", got)
		}
		second, err := f.store.Begin(ctx, "o1", NewSagaID())
		if err != nil || second.Created || second.Saga.ID != sg.ID {
			t.Errorf("second Begin = %+v, %v; want to join %s", second, err, sg.ID)
		}
		e, err := RequestedEvent(sg)
		if err != nil {
			t.Fatal(err)
		}
		schematest.Check(t, e)
	})

	t.Run("concurrent checkouts share one saga", func(t *testing.T) {
		f.order("o2", 1)
		ids := make(chan string, 10)
		var wg sync.WaitGroup
		for range 10 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				co, err := f.store.Begin(ctx, "o2", NewSagaID())
				if err != nil {
					t.Error(err)
					return
				}
				ids <- co.Saga.ID
			}()
		}
		wg.Wait()
		close(ids)
		seen := map[string]bool{}
		for id := range ids {
			seen[id] = true
		}
		if len(seen) != 1 {
			t.Errorf("%d sagas for one order", len(seen))
		}
	})
}

func TestStep(t *testing.T) {
	t.Parallel()
	type step struct {
		typ    string
		reason schemas.Reason
		emit   string // the type of the reply, "" for none
	}
	const (
		compensate = schemas.TypeCheckoutCompensate
		paid       = schemas.TypeCheckoutPaid
		failed     = schemas.TypeCheckoutFailed
	)
	cases := []struct {
		name        string
		steps       []step
		wantStatus  Status
		wantOrder   string
		wantReason  schemas.Reason
		wantOutcome bool
	}{
		{"paid", []step{
			{typ: schemas.TypeStockReserved},
			{typ: schemas.TypeStockReserved},
			{typ: schemas.TypePaymentDebited, emit: paid},
			{typ: schemas.TypePaymentDebited, emit: paid}, // redelivery of the deciding step
			{typ: schemas.TypeStockReleased, emit: paid},  // a late, unrelated reply
		}, Paid, "paid", "", true},
		{"stock short, then compensated", []step{
			{typ: schemas.TypePaymentDebited},
			{typ: schemas.TypeStockRejected, reason: schemas.ReasonInsufficientStock, emit: compensate},
			{typ: schemas.TypeStockRejected, reason: schemas.ReasonInsufficientStock, emit: compensate}, // redelivery
			{typ: schemas.TypeStockReleased},
			{typ: schemas.TypePaymentRefunded, emit: failed},
			{typ: schemas.TypePaymentRefunded, emit: failed},
			{typ: schemas.TypeStockRejected, reason: schemas.ReasonInsufficientStock, emit: failed},
		}, Failed, "open", schemas.ReasonInsufficientStock, true},
		{"compensating waits for both confirmations", []step{
			{typ: schemas.TypePaymentRejected, reason: schemas.ReasonInsufficientCredit, emit: compensate},
			{typ: schemas.TypeStockReserved},
			{typ: schemas.TypePaymentRefunded},
		}, Compensating, "checking_out", schemas.ReasonInsufficientCredit, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t)
			ctx := context.Background()
			co := f.begin("o")
			var outcome *event.Event // the first outcome event; every later one must equal it
			for i, s := range c.steps {
				out, err := f.ev.OnReply(ctx, reply(co.Saga, s.typ, s.reason))
				if err != nil {
					t.Fatalf("step %d: %v", i, err)
				}
				if out == nil && s.emit != "" || out != nil && out.Type() != s.emit {
					t.Fatalf("step %d (%s): reply %v, want type %q", i, s.typ, out, s.emit)
				}
				if out == nil {
					continue
				}
				schematest.Check(t, *out)
				wantID := map[string]string{compensate: schemas.CompensateID(co.Saga.ID),
					paid: schemas.OutcomeID(co.Saga.ID), failed: schemas.OutcomeID(co.Saga.ID)}[s.emit]
				if out.ID() != wantID {
					t.Errorf("step %d: reply id %q, want %q", i, out.ID(), wantID)
				}
				if s.emit == paid || s.emit == failed {
					if outcome == nil {
						outcome = out
					} else if out.ID() != outcome.ID() || !bytes.Equal(out.Data(), outcome.Data()) {
						t.Errorf("step %d: outcome re-emitted as %s, first was %s", i, out, outcome)
					}
				}
			}
			sg, err := f.store.Get(ctx, co.Saga.ID)
			if err != nil {
				t.Fatal(err)
			}
			if outcome != nil {
				// The outcome is the saga as stored: what the order took, at its prices.
				want, err := OutcomeEvent(sg)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(outcome.Data(), want.Data()) || len(sg.Items) == 0 || sg.Items[0].UnitPrice == 0 {
					t.Errorf("outcome data %s, saga %+v", outcome.Data(), sg)
				}
			}
			if sg.State.Status != c.wantStatus || sg.Reason != c.wantReason {
				t.Errorf("saga %v reason %q, want %s %q", sg.State, sg.Reason, c.wantStatus, c.wantReason)
			}
			if got := f.orderStatus("o"); got != c.wantOrder {
				t.Errorf("order status %s, want %s", got, c.wantOrder)
			}
			outs, err := f.store.Outcomes(ctx, []string{sg.ID})
			if err != nil || (len(outs) == 1) != c.wantOutcome {
				t.Errorf("outcomes %v, %v", outs, err)
			}
			// Counted once, by the step that decided it: redeliveries
			// after the decision (the second refund) count nothing.
			got := metricstest.Gather(t, f.reg)
			for _, o := range []Status{Paid, Failed} {
				want := 0.0
				if c.wantOutcome && o == c.wantStatus {
					want = 1
				}
				if n := got.Get("wdm_saga_outcomes_total", "outcome", string(o)); n != want {
					t.Errorf("outcome %s counted %v times, want %v", o, n, want)
				}
			}
			if n, want := got.Get("wdm_saga_duration_seconds_count"), float64(len(outs)); n != want {
				t.Errorf("durations observed %v, want %v", n, want)
			}
		})
	}
}

func TestStepRejectsWhatItCannotUse(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	unknown := reply(Saga{ID: "nope", OrderID: "o", UserID: "u"}, schemas.TypeStockReserved, "")
	wrongType := event.New()
	wrongType.SetID("x")
	wrongType.SetSource("/test")
	wrongType.SetType(schemas.TypeCheckoutRequested)
	_ = wrongType.SetData(event.ApplicationJSON, schemas.CheckoutRequested{SagaID: "s", OrderID: "o", UserID: "u",
		Items: []schemas.Item{{ItemID: "i", Quantity: 1}}})
	for name, e := range map[string]event.Event{"unknown saga": unknown, "not a reply": wrongType} {
		t.Run(name, func(t *testing.T) {
			if _, err := f.ev.OnReply(context.Background(), e); !errors.Is(err, eventhttp.ErrPermanent) {
				t.Errorf("got %v, want permanent", err)
			}
		})
	}
}

func TestSweep(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	begin := func(order string) Saga { return f.begin(order).Saga }
	age := func(sg Saga, updated, created time.Duration) {
		if _, err := f.pool.Exec(ctx, `UPDATE sagas SET updated_at = now() - $2 * interval '1 second',
			created_at = now() - $3 * interval '1 second' WHERE id = $1`,
			sg.ID, updated.Seconds(), created.Seconds()); err != nil {
			t.Fatal(err)
		}
	}
	fresh := begin("fresh")
	stalled := begin("stalled")
	age(stalled, 10*time.Second, 10*time.Second)
	overdue := begin("overdue")
	age(overdue, 10*time.Second, 2*time.Minute)
	compensating := begin("compensating")
	if _, err := f.ev.OnReply(ctx, reply(compensating, schemas.TypeStockRejected, schemas.ReasonUnknownItem)); err != nil {
		t.Fatal(err)
	}
	age(compensating, 10*time.Second, 10*time.Second)
	paid := begin("paid")
	for _, typ := range []string{schemas.TypeStockReserved, schemas.TypePaymentDebited} {
		if _, err := f.ev.OnReply(ctx, reply(paid, typ, "")); err != nil {
			t.Fatal(err)
		}
	}
	age(paid, time.Hour, time.Hour)

	if out, err := f.ev.OnPing(ctx, event.New()); err != nil || out != nil {
		t.Fatalf("sweep = %v, %v", out, err)
	}
	got := map[string]string{}
	for _, e := range f.sink.take() {
		schematest.Check(t, e)
		got[e.Subject()] = e.Type()
	}
	want := map[string]string{
		stalled.ID:      schemas.TypeCheckoutRequested,
		overdue.ID:      schemas.TypeCheckoutCompensate,
		compensating.ID: schemas.TypeCheckoutCompensate,
	}
	if len(got) != len(want) {
		t.Errorf("sweep sent %v, want %v", got, want)
	}
	for id, typ := range want {
		if got[id] != typ {
			t.Errorf("saga %s: sent %q, want %q", id, got[id], typ)
		}
	}
	if _, ok := got[fresh.ID]; ok {
		t.Error("fresh saga re-sent")
	}
	sg, err := f.store.Get(ctx, overdue.ID)
	if err != nil || sg.State.Status != Compensating || sg.Reason != schemas.ReasonDeadline || sg.Attempts != 1 {
		t.Errorf("overdue saga %+v, %v", sg, err)
	}
	// Just re-sent: the next tick leaves them alone for StallAfter.
	if _, err := f.ev.OnPing(ctx, event.New()); err != nil {
		t.Fatal(err)
	}
	if again := f.sink.take(); len(again) != 0 {
		t.Errorf("second sweep re-sent %d events at once", len(again))
	}
}

func TestOutcomesWake(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	outcomes := NewOutcomes(f.dsn, f.store, quietLog())
	go outcomes.Run(ctx)

	co := f.begin("o")
	const waiters = 3
	results := make(chan Outcome, waiters)
	for range waiters {
		go func() {
			out, err := outcomes.Wait(ctx, co.Saga.ID)
			if err != nil {
				t.Error(err)
			}
			results <- out
		}()
	}
	waitForWaiters(t, outcomes, co.Saga.ID, waiters)
	// Cut the listener's connection: it must reconnect and still deliver.
	terminateListener(t, f.pool)
	start := time.Now()
	for _, typ := range []string{schemas.TypeStockReserved, schemas.TypePaymentDebited} {
		if _, err := f.ev.OnReply(ctx, reply(co.Saga, typ, "")); err != nil {
			t.Fatal(err)
		}
	}
	for range waiters {
		select {
		case out := <-results:
			if out.Status != Paid || out.SagaID != co.Saga.ID {
				t.Errorf("outcome %+v", out)
			}
		case <-time.After(waiterRecheck + 5*time.Second):
			t.Fatal("waiter not woken")
		}
	}
	t.Logf("woken after %v", time.Since(start))

	// A decided saga answers at once.
	waitCtx, cancelWait := context.WithTimeout(ctx, time.Second)
	defer cancelWait()
	if out, err := outcomes.Wait(waitCtx, co.Saga.ID); err != nil || out.Status != Paid {
		t.Errorf("wait on a paid saga = %+v, %v", out, err)
	}
}

func TestOutcomesTimeout(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	outcomes := NewOutcomes(f.dsn, f.store, quietLog())
	co := f.begin("o")
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if _, err := outcomes.Wait(ctx, co.Saga.ID); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("got %v, want deadline exceeded", err)
	}
	if n := len(outcomes.waiting()); n != 0 {
		t.Errorf("%d waiters left registered", n)
	}
}

func waitForWaiters(t *testing.T, o *Outcomes, id string, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		o.mu.Lock()
		got := len(o.waiters[id])
		o.mu.Unlock()
		if got == n {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("waiters did not register")
}

// terminateListener kills the listener's backend once it is listening.
func terminateListener(t *testing.T, pool *pgxpool.Pool) {
	t.Helper()
	pollCount(t, pool, `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
		WHERE query LIKE 'LISTEN%' AND datname = current_database()`,
		func(n int) bool { return n == 1 }, "no listener to terminate")
}

// pollCount runs a count query on pool every 10 ms until done holds for its
// count, and fails the test with failure if it does not within 5 s.
func pollCount(t *testing.T, pool *pgxpool.Pool, query string, done func(n int) bool, failure string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		var n int
		if err := pool.QueryRow(context.Background(), query).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if done(n) {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal(failure)
}

// TestTransitionsInPostgres holds the saga_transitions table that saga_step
// uses (db-migrations/order/functions/saga_transitions.sql) equal to the Go
// machine, Transition, for every state and input, and the order statuses it
// writes equal to the order domain's.
func TestTransitionsInPostgres(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	type key struct {
		from State
		in   string
	}
	rows, err := f.pool.Query(ctx, `SELECT status, stock, payment, input, next_status, next_stock, next_payment,
		emit, order_change FROM saga_transitions`)
	if err != nil {
		t.Fatal(err)
	}
	inSQL := map[key]Decision{}
	for rows.Next() {
		var (
			k            key
			d            Decision
			emit, change string
		)
		if err := rows.Scan(&k.from.Status, &k.from.Stock, &k.from.Payment, &k.in,
			&d.Next.Status, &d.Next.Stock, &d.Next.Payment, &emit, &change); err != nil {
			t.Fatal(err)
		}
		d.Emit, d.Order = emitNamed[emit], orderChangeNamed[change]
		inSQL[k] = d
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	matched := 0
	everyTransition(func(from State, in Input) {
		want := Transition(from, in)
		got, ok := inSQL[key{from, in.String()}]
		if !ok {
			// Absent rows mean: nothing changes, nothing is sent.
			got = Decision{Next: from}
		} else {
			matched++
		}
		if got != want {
			t.Errorf("%s on %s: Postgres %+v, Go %+v", from, in, got, want)
		}
	})
	if matched != len(inSQL) {
		t.Errorf("%d rows of saga_transitions name no state and input of the machine", len(inSQL)-matched)
	}
	for change, status := range map[OrderChange]string{OrderPaid: order.StatusPaid, OrderOpen: order.StatusOpen} {
		if name := orderChangeName(change); name != status {
			t.Errorf("saga_step sets orders.status to %q, the order domain calls it %q", name, status)
		}
	}
}

// TestStepRaces delivers a saga's replies (saga_step) the ways an
// at-least-once, unordered broker can, all at once: every copy of a reply
// twice or more, a rejection racing the step it makes compensate, and late
// steps after the saga is decided. Whatever the interleaving, the saga ends
// in its one right state, the order with it, and the decision is counted
// once; every answer to a decided saga is its one outcome event.
func TestStepRaces(t *testing.T) {
	t.Parallel()
	type delivery struct {
		typ    string
		reason schemas.Reason
		copies int
	}
	cases := []struct {
		name      string
		before    []delivery // delivered one after another first
		together  []delivery // then all copies at once
		want      Status
		wantOrder string
	}{
		{"both steps, each delivered many times at once", nil,
			[]delivery{{schemas.TypeStockReserved, "", 5}, {schemas.TypePaymentDebited, "", 5}}, Paid, order.StatusPaid},
		{"a rejection racing the step it compensates", nil,
			[]delivery{{schemas.TypeStockRejected, schemas.ReasonInsufficientStock, 4}, {schemas.TypePaymentDebited, "", 4}},
			Compensating, order.StatusCheckingOut},
		{"both compensations, each many times at once",
			[]delivery{{schemas.TypeStockRejected, schemas.ReasonInsufficientStock, 1}, {schemas.TypePaymentDebited, "", 1}},
			[]delivery{{schemas.TypeStockReleased, "", 5}, {schemas.TypePaymentRefunded, "", 5}}, Failed, order.StatusOpen},
		{"late steps after the saga failed",
			[]delivery{{schemas.TypePaymentRejected, schemas.ReasonInsufficientCredit, 1},
				{schemas.TypeStockReleased, "", 1}, {schemas.TypePaymentRefunded, "", 1}},
			[]delivery{{schemas.TypeStockReserved, "", 5}, {schemas.TypePaymentDebited, "", 5}}, Failed, order.StatusOpen},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			ctx := context.Background()
			b := f.begin("o")
			for _, d := range c.before {
				if _, err := f.ev.OnReply(ctx, reply(b.Saga, d.typ, d.reason)); err != nil {
					t.Fatal(err)
				}
			}
			var (
				wg      sync.WaitGroup
				mu      sync.Mutex
				answers []*event.Event
			)
			for _, d := range c.together {
				for range d.copies {
					wg.Add(1)
					go func() {
						defer wg.Done()
						out, err := f.ev.OnReply(ctx, reply(b.Saga, d.typ, d.reason))
						if err != nil {
							t.Error(err)
							return
						}
						mu.Lock()
						answers = append(answers, out)
						mu.Unlock()
					}()
				}
			}
			wg.Wait()
			sg, err := f.store.Get(ctx, b.Saga.ID)
			if err != nil {
				t.Fatal(err)
			}
			if sg.State.Status != c.want || f.orderStatus("o") != c.wantOrder {
				t.Errorf("saga %v, order %s; want %s, order %s", sg.State, f.orderStatus("o"), c.want, c.wantOrder)
			}
			decided := 0.0
			got := metricstest.Gather(t, f.reg)
			for _, s := range []Status{Paid, Failed} {
				decided += got.Get("wdm_saga_outcomes_total", "outcome", string(s))
			}
			if want := map[bool]float64{true: 1, false: 0}[c.want.Final()]; decided != want {
				t.Errorf("decision counted %v times, want %v", decided, want)
			}
			if !c.want.Final() {
				return
			}
			// Every answer that is an outcome is the same event.
			outcome, err := OutcomeEvent(sg)
			if err != nil {
				t.Fatal(err)
			}
			for _, out := range answers {
				if out != nil && (out.Type() == schemas.TypeCheckoutPaid || out.Type() == schemas.TypeCheckoutFailed) &&
					(out.ID() != outcome.ID() || out.Type() != outcome.Type() || string(out.Data()) != string(outcome.Data())) {
					t.Errorf("answer %s, want the saga's one outcome %s", out, outcome)
				}
			}
		})
	}
}

// TestWaitingForTheLock: a checkout or a step that waits for the row lock
// of its order or saga decides on what the lock's holder committed, not on
// what it could read before it waited: checkout_begin looks for the running
// saga, and saga_step for the transition, only once the lock is theirs.
func TestWaitingForTheLock(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	// hold runs first in a transaction that commits only once second waits
	// for the lock first took.
	hold := func(t *testing.T, f *fixture, first func(*Store), second func()) {
		tx, err := f.pool.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer tx.Rollback(ctx) //nolint:errcheck
		first(NewStore(tx))
		done := make(chan struct{})
		go func() {
			defer close(done)
			second()
		}()
		waitForLockWait(t, f.pool)
		if err := tx.Commit(ctx); err != nil {
			t.Fatal(err)
		}
		<-done
	}

	t.Run("checkout joins the saga the holder created", func(t *testing.T) {
		f := newFixture(t)
		f.order("o", 1)
		var first, second Begun
		var err1, err2 error
		hold(t, f, func(s *Store) { first, err1 = s.Begin(ctx, "o", NewSagaID()) },
			func() { second, err2 = f.store.Begin(ctx, "o", NewSagaID()) })
		if err1 != nil || err2 != nil || !first.Created || second.Created || second.Saga.ID != first.Saga.ID ||
			second.Saga.TotalCost != 3 || len(second.Saga.Items) != 1 {
			t.Errorf("first %+v (%v), second %+v (%v); want the second to join the first", first, err1, second, err2)
		}
	})

	t.Run("step applies to the state the holder left", func(t *testing.T) {
		f := newFixture(t)
		b := f.begin("o")
		var d Decision
		var err1, err2 error
		hold(t, f, func(s *Store) { _, _, err1 = s.Advance(ctx, b.Saga.ID, StockReserved, "") },
			func() { _, d, err2 = f.store.Advance(ctx, b.Saga.ID, PaymentDebited, "") })
		want := Decision{Next: State{Status: Paid, Stock: Taken, Payment: Taken}, Emit: EmitPaid, Order: OrderPaid}
		if err1 != nil || err2 != nil || d != want {
			t.Errorf("second step %+v (%v, %v), want %+v", d, err1, err2, want)
		}
		if got := f.orderStatus("o"); got != order.StatusPaid {
			t.Errorf("order status %s, want %s", got, order.StatusPaid)
		}
	})
}

// waitForLockWait returns once a backend of pool's database waits for a lock.
func waitForLockWait(t *testing.T, pool *pgxpool.Pool) {
	t.Helper()
	pollCount(t, pool, `SELECT count(*) FROM pg_stat_activity
		WHERE datname = current_database() AND wait_event_type = 'Lock'`,
		func(n int) bool { return n > 0 }, "nobody waits for the lock")
}

// TestSweepsAtOnce runs several sweeps at the same time over stalled sagas:
// SKIP LOCKED hands each saga to one of them, so each is re-sent once.
func TestSweepsAtOnce(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	const sagas = 12
	for i := range sagas {
		id := fmt.Sprintf("o%d", i)
		f.order(id, 1)
		if _, err := f.store.Begin(ctx, id, NewSagaID()); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := f.pool.Exec(ctx, `UPDATE sagas SET updated_at = now() - interval '1 minute'`); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := f.ev.Sweep(ctx); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	sent := map[string]int{}
	for _, e := range f.sink.take() {
		sent[e.Subject()]++
	}
	if len(sent) != sagas {
		t.Errorf("%d sagas re-sent, want %d", len(sent), sagas)
	}
	for id, n := range sent {
		if n != 1 {
			t.Errorf("saga %s re-sent %d times by sweeps running at once, want 1", id, n)
		}
	}
	var attempts int
	if err := f.pool.QueryRow(ctx, `SELECT sum(attempts) FROM sagas`).Scan(&attempts); err != nil {
		t.Fatal(err)
	}
	if attempts != sagas {
		t.Errorf("%d attempts recorded, want %d (one per saga)", attempts, sagas)
	}
}
