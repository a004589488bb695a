package saga_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/wdm-knative/webshop/functions/functiontest"
	"github.com/wdm-knative/webshop/functions/payment"
	"github.com/wdm-knative/webshop/functions/stock"
	"github.com/wdm-knative/webshop/internal/pgtx"
	"github.com/wdm-knative/webshop/local/eventtest"
	"github.com/wdm-knative/webshop/local/testenv/shopdb"
	"github.com/wdm-knative/webshop/saga"
)

// TestCheckoutSagaInProcess runs many checkouts at once through the real
// participants, the real saga and an unreliable in-memory broker
// (duplicates, any order, lost first events), then checks that stock taken,
// credit taken and paid orders agree.
func TestCheckoutSagaInProcess(t *testing.T) {
	cases := []struct {
		name              string
		dupRate, dropRate float64
		deadline          time.Duration // the sweep's; lost requests then compensate
	}{
		{"reliable broker", 0, 0, time.Hour},
		{"duplicates", 0.3, 0, time.Hour},
		{"duplicates and lost requests, re-sent", 0.3, 0.2, time.Hour},
		{"duplicates and lost requests, deadline", 0.3, 0.2, time.Millisecond},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			runSagas(t, uint64(i), c.dupRate, c.dropRate, c.deadline)
		})
	}
}

func runSagas(t *testing.T, seed uint64, dupRate, dropRate float64, deadline time.Duration) {
	ctx := context.Background()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	orderDB, stockDB, paymentDB := shopdb.Pool(t, "order", 8), shopdb.Pool(t, "stock", 8), shopdb.Pool(t, "payment", 8)
	rng := rand.New(rand.NewPCG(seed, 42))

	const nItems, nUsers, nOrders = 4, 12, 60
	prices := make([]int64, nItems)
	for i := range nItems {
		prices[i] = int64(1 + i)
		functiontest.Exec(t, stockDB, `INSERT INTO items (id, stock, price) VALUES ($1, 12, $2)`, fmt.Sprint(i), prices[i])
	}
	for u := range nUsers {
		functiontest.Exec(t, paymentDB, `INSERT INTO users (id, credit) VALUES ($1, $2)`, fmt.Sprint(u), 10+rng.Int64N(40))
	}
	for o := range nOrders {
		id := fmt.Sprint(o)
		var total int64
		functiontest.Exec(t, orderDB, `INSERT INTO orders (id, user_id) VALUES ($1, $2)`, id, fmt.Sprint(rng.IntN(nUsers+1))) // user nUsers is unknown
		for _, it := range rng.Perm(nItems)[:1+rng.IntN(3)] {
			q := 1 + rng.Int64N(3)
			functiontest.Exec(t, orderDB, `INSERT INTO order_items VALUES ($1, $2, $3, $4)`, id, fmt.Sprint(it), q, prices[it])
			total += q * prices[it]
		}
		functiontest.Exec(t, orderDB, `UPDATE orders SET total_cost = $2 WHERE id = $1`, id, total)
	}
	stockBefore := functiontest.Int(t, stockDB, `SELECT sum(stock * price) FROM items`)
	creditBefore := functiontest.Int(t, paymentDB, `SELECT sum(credit) FROM users`)

	sagaStore := saga.NewStore(orderDB)
	b := eventtest.New(t, eventtest.Seed(seed), eventtest.Duplicates(dupRate), eventtest.Drops(dropRate))
	sagaEvents := saga.NewEvents(sagaStore, b, saga.Options{StallAfter: time.Millisecond, Deadline: deadline, Batch: 7}, log)
	b.SubscribeAll(stock.NewHandlers(stockDB, log).EventOperations())
	b.SubscribeAll(payment.NewHandlers(paymentDB, log).EventOperations())
	b.SubscribeAll(sagaEvents.Operations())

	// Every order checked out twice at once: the second joins.
	var wg sync.WaitGroup
	for o := range nOrders {
		for range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				co, err := sagaStore.Begin(ctx, fmt.Sprint(o), saga.NewSagaID())
				if err != nil {
					t.Error(err)
					return
				}
				if co.Created {
					e, err := saga.RequestedEvent(co.Saga)
					if err != nil {
						t.Error(err)
						return
					}
					_ = b.Send(ctx, e)
				}
			}()
		}
	}
	wg.Wait()
	if n := functiontest.Int(t, orderDB, `SELECT count(*) FROM sagas`); n != nOrders {
		t.Fatalf("%d sagas for %d orders", n, nOrders)
	}
	b.Drain(6)
	// Lost requests leave sagas pending; sweeps re-send until all end.
	for round := 0; functiontest.Int(t, orderDB, `SELECT count(*) FROM sagas WHERE status IN ('pending', 'compensating')`) > 0; round++ {
		if round == 5 {
			t.Fatal("sagas still running after 5 sweeps")
		}
		time.Sleep(5 * time.Millisecond)
		if err := sagaEvents.Sweep(ctx); err != nil {
			t.Fatal(err)
		}
		b.Drain(6)
	}

	paidOrders := functiontest.Int(t, orderDB, `SELECT count(*) FROM orders WHERE status = 'paid'`)
	paidSagas := functiontest.Int(t, orderDB, `SELECT count(*) FROM sagas WHERE status = 'paid'`)
	openOrders := functiontest.Int(t, orderDB, `SELECT count(*) FROM orders WHERE status = 'open'`)
	paidValue := functiontest.Int(t, orderDB, `SELECT coalesce(sum(total_cost), 0) FROM orders WHERE status = 'paid'`)
	stockTaken := stockBefore - functiontest.Int(t, stockDB, `SELECT sum(stock * price) FROM items`)
	creditTaken := creditBefore - functiontest.Int(t, paymentDB, `SELECT sum(credit) FROM users`)
	t.Logf("%d deliveries; %d paid, %d open; value %d", b.Handled(), paidOrders, openOrders, paidValue)
	if paidOrders != paidSagas || paidOrders+openOrders != nOrders {
		t.Errorf("paid orders %d, paid sagas %d, open orders %d of %d", paidOrders, paidSagas, openOrders, nOrders)
	}
	if stockTaken != paidValue || creditTaken != paidValue {
		t.Errorf("stock taken %d, credit taken %d, paid orders' total %d: must all agree", stockTaken, creditTaken, paidValue)
	}
	if paidOrders == 0 || openOrders == 0 {
		t.Errorf("want both outcomes in the mix: %d paid, %d open", paidOrders, openOrders)
	}
	// Per item, too: what stock lost is what paid orders hold.
	type line struct {
		ItemID   string
		Quantity int64
	}
	lines, err := pgtx.Collect(ctx, orderDB, pgx.RowToStructByPos[line], "paid lines",
		`SELECT i.item_id, sum(i.quantity)::bigint FROM order_items i JOIN orders o ON o.id = i.order_id
		WHERE o.status = 'paid' GROUP BY i.item_id`)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int64{}
	for _, l := range lines {
		want[l.ItemID] = l.Quantity
	}
	for i := range nItems {
		id := fmt.Sprint(i)
		var left int64
		if err := stockDB.QueryRow(ctx, `SELECT stock FROM items WHERE id = $1`, id).Scan(&left); err != nil {
			t.Fatal(err)
		}
		if 12-left != want[id] {
			t.Errorf("item %s: %d taken, paid orders hold %d", id, 12-left, want[id])
		}
	}
}
