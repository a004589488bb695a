package e2e

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/wdm-knative/webshop/e2e/consistency"
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
	w := consistency.Build(t, client, consistency.ManyItems(4000), 3)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	victims := []string{"stock", "payment", "saga", stack.Broker, stack.Gateway, stack.RabbitMQ, stack.Postgres}
	var wg sync.WaitGroup
	loadCtx, stopLoad := context.WithCancel(ctx)
	load := consistency.NewOutcome()
	wg.Add(1)
	go func() {
		defer wg.Done()
		consistency.CheckoutAll(loadCtx, client, load, w.Orders, 32, 1, true)
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
	if n := load.Answered(); n >= len(w.Orders) {
		t.Fatalf("all %d checkouts were answered before the last kill: make the workload larger", n)
	} else {
		t.Logf("%d of %d checkouts answered when the last component was back", n, len(w.Orders))
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

	consistency.WaitSettled(t, countIn, 30*time.Second)
	a := consistency.Audit(t, client, w, load)
	if a.PaidOrders == 0 {
		t.Error("no order was paid")
	}
	consistency.NoOrderPaidTwice(t, countIn, time.Time{})
	checkOutcomeEvents(t, w, load)
}

// countIn runs a count query in one of the stack's databases.
func countIn(ctx context.Context, db, query string) (int, error) {
	conn, err := pgx.Connect(ctx, shop.DSN(db))
	if err != nil {
		return 0, err
	}
	defer conn.Close(context.Background())
	var n int
	return n, conn.QueryRow(ctx, query).Scan(&n)
}
