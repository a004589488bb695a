package stock

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"testing"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/wdm-knative/webshop/functions/functiontest"
	"github.com/wdm-knative/webshop/internal/eventhttp"
	"github.com/wdm-knative/webshop/internal/operation"
	"github.com/wdm-knative/webshop/schemas"
	"github.com/wdm-knative/webshop/schemas/schematest"
)

// fixture is the stock event operations on a database of their own.
type fixture struct{ *functiontest.Events }

func newFixture(t *testing.T) fixture {
	t.Helper()
	return fixture{functiontest.NewEvents(t, "stock", func(db *pgxpool.Pool, log *slog.Logger) map[string]eventhttp.Handler {
		return NewHandlers(db, log).EventOperations()
	})}
}

func (f fixture) item(id string, stock int64) {
	f.T.Helper()
	functiontest.Exec(f.T, f.DB, `INSERT INTO items (id, stock, price) VALUES ($1, $2, 1)`, id, stock)
}

func (f fixture) stock(id string) int64 {
	f.T.Helper()
	return functiontest.Int(f.T, f.DB, `SELECT stock FROM items WHERE id = $1`, id)
}

func requested(saga string, items ...schemas.Item) event.Event {
	return schematest.Requested(schemas.CheckoutRequested{SagaID: saga, OrderID: "o-" + saga, UserID: "u", Items: items, TotalCost: 1})
}

func compensate(saga string) event.Event {
	return schematest.Compensate(schemas.CheckoutCompensate{SagaID: saga, OrderID: "o-" + saga, UserID: "u", Reason: schemas.ReasonInsufficientCredit})
}

func it(id string, q int64) schemas.Item { return schemas.Item{ItemID: id, Quantity: q} }

func decode[T schemas.Data](t *testing.T, e event.Event) T {
	t.Helper()
	d, err := schemas.DecodeAs[T](e)
	if err != nil {
		t.Fatalf("reply %s: %v", e.Type(), err)
	}
	return d
}

func TestReserve(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name       string
		items      []schemas.Item
		wantType   string
		wantReason schemas.Reason
		wantItem   string
		wantStock  map[string]int64
	}{
		{"all available", []schemas.Item{it("a", 2), it("b", 3)}, schemas.TypeStockReserved, "", "", map[string]int64{"a": 3, "b": 0}},
		{"repeated item is summed", []schemas.Item{it("a", 2), it("a", 3)}, schemas.TypeStockReserved, "", "", map[string]int64{"a": 0, "b": 3}},
		{"one short takes nothing", []schemas.Item{it("a", 1), it("b", 4)}, schemas.TypeStockRejected, schemas.ReasonInsufficientStock, "b", map[string]int64{"a": 5, "b": 3}},
		{"unknown item takes nothing", []schemas.Item{it("a", 1), it("zz", 1)}, schemas.TypeStockRejected, schemas.ReasonUnknownItem, "zz", map[string]int64{"a": 5, "b": 3}},
		{"sum past int64 is short", []schemas.Item{it("a", 1<<62), it("a", 1<<62), it("a", 1<<62)}, schemas.TypeStockRejected, schemas.ReasonInsufficientStock, "a", map[string]int64{"a": 5}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t)
			f.item("a", 5)
			f.item("b", 3)
			in := requested("s1", c.items...)
			first := f.Call(operation.StockReserve, in)
			if first.Type() != c.wantType {
				t.Fatalf("reply %s, want %s", first.Type(), c.wantType)
			}
			if c.wantType == schemas.TypeStockRejected {
				r := decode[schemas.StockRejected](t, first)
				if r.Reason != c.wantReason || r.ItemID != c.wantItem {
					t.Errorf("rejected %+v, want reason %s item %s", r, c.wantReason, c.wantItem)
				}
			}
			// A redelivery is answered from the ledger: same reply, no change.
			again := f.Call(operation.StockReserve, in)
			if again.ID() != first.ID() || string(again.Data()) != string(first.Data()) || again.Type() != first.Type() {
				t.Errorf("redelivery answered %s, first %s", again, first)
			}
			for id, want := range c.wantStock {
				if got := f.stock(id); got != want {
					t.Errorf("stock of %s = %d, want %d", id, got, want)
				}
			}
		})
	}
}

func TestRelease(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name         string
		reserve      []schemas.Item // nil: no reservation before the release
		reserveAfter bool
		wantReleased []schemas.Item
		wantLate     string // reply type of a reserve arriving after the release
	}{
		{"gives back a reservation", []schemas.Item{it("a", 2), it("b", 1)}, false, []schemas.Item{it("a", 2), it("b", 1)}, schemas.TypeStockReserved},
		{"rejected reservation gives back nothing", []schemas.Item{it("a", 99)}, false, []schemas.Item{}, schemas.TypeStockRejected},
		{"compensation first leaves a tombstone", nil, true, []schemas.Item{}, schemas.TypeStockRejected},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t)
			f.item("a", 5)
			f.item("b", 3)
			items := c.reserve
			if items == nil {
				items = []schemas.Item{it("a", 1)}
			} else {
				f.Call(operation.StockReserve, requested("s1", items...))
			}
			rel := f.Call(operation.StockRelease, compensate("s1"))
			if rel.Type() != schemas.TypeStockReleased {
				t.Fatalf("reply %s", rel.Type())
			}
			if got := decode[schemas.StockReleased](t, rel).Items; fmt.Sprint(got) != fmt.Sprint(c.wantReleased) {
				t.Errorf("released %v, want %v", got, c.wantReleased)
			}
			// Duplicate compensation: same answer, given back once.
			if again := f.Call(operation.StockRelease, compensate("s1")); string(again.Data()) != string(rel.Data()) || again.ID() != rel.ID() {
				t.Errorf("duplicate release answered %s, first %s", again.Data(), rel.Data())
			}
			late := f.Call(operation.StockReserve, requested("s1", items...))
			if late.Type() != c.wantLate {
				t.Errorf("reserve after release answered %s, want %s", late.Type(), c.wantLate)
			}
			if c.reserveAfter {
				if r := decode[schemas.StockRejected](t, late); r.Reason != schemas.ReasonCompensated {
					t.Errorf("late reserve reason %s", r.Reason)
				}
			}
			if f.stock("a") != 5 || f.stock("b") != 3 {
				t.Errorf("stock a=%d b=%d, want it all back (5, 3)", f.stock("a"), f.stock("b"))
			}
		})
	}
}

func TestReserveConcurrentOnOneItem(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.item("hot", 10)
	replies := functiontest.ReplyTypes(t, f.Ops[operation.StockReserve], 40, func(i int) event.Event {
		return requested(fmt.Sprintf("s%d", i), it("hot", 1))
	})
	if reserved := replies[schemas.TypeStockReserved]; reserved != 10 || f.stock("hot") != 0 {
		t.Errorf("reserved %d (want 10), stock left %d (want 0)", replies[schemas.TypeStockReserved], f.stock("hot"))
	}
}

// TestReserveNoDeadlock runs multi-item reservations whose orders list the
// same items in opposite orders.
func TestReserveNoDeadlock(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.item("x", 1000)
	f.item("y", 1000)
	f.item("z", 1000)
	var wg sync.WaitGroup
	for i := range 60 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			items := []schemas.Item{it("x", 1), it("y", 1), it("z", 1)}
			if i%2 == 1 {
				items = []schemas.Item{it("z", 1), it("y", 1), it("x", 1)}
			}
			saga := fmt.Sprintf("s%d", i)
			if _, err := f.Ops[operation.StockReserve](context.Background(), requested(saga, items...)); err != nil {
				t.Error(err)
			}
			if i%3 == 0 {
				if _, err := f.Ops[operation.StockRelease](context.Background(), compensate(saga)); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	// 60 reserved, 20 of them released.
	for _, id := range []string{"x", "y", "z"} {
		if got := f.stock(id); got != 1000-40 {
			t.Errorf("stock of %s = %d, want 960", id, got)
		}
	}
}

func TestMalformedEventsArePermanent(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	schematest.CheckPermanent(t, f.Ops, schemas.TypeCheckoutRequested, map[string]any{"saga_id": "s", "items": []any{}})
}

// TestStepRaces: stock_reserve and stock_release survive every way the broker
// can deliver them (schematest.StepRaces).
func TestStepRaces(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	schematest.RunStepRaces(t, func(t *testing.T, i int) (step, undo schematest.Delivery, taken func() int64, once int64) {
		item, saga := fmt.Sprintf("i%d-%s", i, t.Name()), fmt.Sprintf("s%d-%s", i, t.Name())
		f.item(item, 100)
		return schematest.Delivery{Handler: f.Ops[operation.StockReserve], In: requested(saga, it(item, 2))},
			schematest.Delivery{Handler: f.Ops[operation.StockRelease], In: compensate(saga)},
			func() int64 { return 100 - f.stock(item) }, 2
	})
}
