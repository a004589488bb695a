package e2e

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/wdm-knative/webshop/internal/shopclient"
	"github.com/wdm-knative/webshop/local/stack"
)

// The supervisor brings a killed function back within 2 s, and requests
// succeed again.
func TestKilledFunctionIsRestarted(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	item, err := client.CreateItem(ctx, 3, 5)
	if err != nil {
		t.Fatal(err)
	}
	before := shop.Pid("stock")
	killed := time.Now()
	if err := shop.Kill("stock"); err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := client.Do(ctx, "GET", "/stock/find/"+item, nil); err == nil {
			break
		} else if !errors.Is(err, shopclient.ErrUnavailable) {
			t.Fatalf("after the kill: %v", err)
		}
		if time.Since(killed) > 2*time.Second {
			t.Fatalf("stock still unavailable 2 s after the kill")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if pid := shop.Pid("stock"); pid == before || pid == 0 {
		t.Fatalf("stock pid %d after the kill, %d before: not restarted", pid, before)
	}
	t.Logf("stock serving again %v after SIGKILL", time.Since(killed).Round(time.Millisecond))
}

// Checkouts go on while every kind of process is killed in turn. Callers may
// see 5xx during a kill, never a wrong 200 or 4xx; afterwards every saga ends
// within 30 s and the books balance.
func TestConsistencyUnderFaults(t *testing.T) {
	w := build(t, manyItems(4000), 3)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	victims := []string{"stock", "payment", "saga", stack.Broker, stack.Gateway, stack.RabbitMQ, stack.Postgres}
	var wg sync.WaitGroup
	loadCtx, stopLoad := context.WithCancel(ctx)
	load := newOutcome()
	wg.Add(1)
	go func() {
		defer wg.Done()
		checkoutAll(loadCtx, load, w.orders, 32, 1, true)
	}()
	for _, v := range victims {
		time.Sleep(1500 * time.Millisecond)
		t.Logf("killing %s", v)
		if err := shop.Kill(v); err != nil {
			t.Fatalf("kill %s: %v", v, err)
		}
		if err := shop.WaitReady(ctx, v); err != nil {
			t.Fatalf("%s not back: %v", v, err)
		}
	}
	// Every kill must land while checkouts are in flight, or the test proves nothing.
	if n := load.answered(); n >= len(w.orders) {
		t.Fatalf("all %d checkouts were answered before the last kill: make the workload larger", n)
	} else {
		t.Logf("%d of %d checkouts answered when the last component was back", n, len(w.orders))
	}
	// Let the load finish; callers retry until they get an answer.
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(3 * time.Minute):
		stopLoad()
		<-done
		t.Error("checkouts still had no answer 3 minutes after the last kill")
	}
	stopLoad()

	waitSagasSettled(t, 30*time.Second)
	a := audit(t, w, load)
	if a.PaidOrders == 0 {
		t.Error("no order was paid")
	}
	noOrderPaidTwice(t)
	checkOutcomeEvents(t, w, load)
}

// waitSagasSettled fails unless every saga reaches paid or failed in time.
func waitSagasSettled(t *testing.T, within time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	var running int
	for {
		conn, err := pgx.Connect(ctx, shop.DSN("order"))
		if err == nil {
			err = conn.QueryRow(ctx, "SELECT count(*) FROM sagas WHERE status NOT IN ('paid', 'failed')").Scan(&running)
			conn.Close(context.Background())
		}
		if err == nil && running == 0 {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%d sagas still running after %v (last error: %v)", running, within, err)
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// noOrderPaidTwice checks the participants' ledgers and the sagas: at most one
// paid saga per order and no order debited by two sagas that were not refunded.
func noOrderPaidTwice(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	checks := []struct{ db, query string }{
		{"order", "SELECT count(*) FROM (SELECT order_id FROM sagas WHERE status = 'paid' GROUP BY order_id HAVING count(*) > 1) twice"},
		{"payment", "SELECT count(*) FROM (SELECT order_id FROM payment_ledger WHERE state = 'debited' GROUP BY order_id HAVING count(*) > 1) twice"},
		// A saga that ended failed holds nothing: its debit and reservation were returned.
		{"order", "SELECT count(*) FROM sagas WHERE status = 'failed' AND (stock = 'taken' OR payment = 'taken')"},
	}
	for _, c := range checks {
		conn, err := pgx.Connect(ctx, shop.DSN(c.db))
		if err != nil {
			t.Fatal(err)
		}
		var n int
		err = conn.QueryRow(ctx, c.query).Scan(&n)
		conn.Close(ctx)
		if err != nil {
			t.Fatalf("%s: %v", c.query, err)
		}
		if n != 0 {
			t.Errorf("%d rows break: %s", n, c.query)
		}
	}
}
