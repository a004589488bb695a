//go:build clustershop

package shop

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/wdm-knative/webshop/cluster/internal/kube"
	"github.com/wdm-knative/webshop/e2e/consistency"
)

// victim is a set of pods the fault test force-deletes.
type victim struct{ namespace, selector string }

func (v victim) String() string { return v.namespace + "/" + v.selector }

// victims are killed one after the other while checkouts are in flight:
// the checkout path's four Services, the broker's ingress and filter, the
// in-memory channel's dispatcher (which loses the events it holds) and
// Postgres once.
var victims = []victim{
	{ns, "serving.knative.dev/service=order-checkout"},
	{ns, "serving.knative.dev/service=saga-step"},
	{ns, "serving.knative.dev/service=stock-reserve"},
	{ns, "serving.knative.dev/service=payment-debit"},
	{"knative-eventing", "eventing.knative.dev/brokerRole=ingress"},
	{"knative-eventing", "eventing.knative.dev/brokerRole=filter"},
	{"knative-eventing", "messaging.knative.dev/role=dispatcher"},
	{ns, "app.kubernetes.io/name=webshop-postgres"},
}

// TestFaultsUnderLoad checks out a many-items workload with 32 callers
// that retry 5xx, force-deletes (grace 0) the victims' pods one by one
// meanwhile, and then holds the shop to an exact audit: money and stock,
// every 200 paid and every 4xx not, every saga ended (paid or
// compensated), none paid twice. The in-memory channel loses what its
// dispatcher held, so sagas caught there stall until the sweep (the
// PingSource, once a minute) re-drives them: it reports how long the
// slowest took.
func TestFaultsUnderLoad(t *testing.T) {
	began := time.Now()
	w := consistency.Build(t, client, consistency.ManyItems(3000), 4)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	load := consistency.NewOutcome()
	done := make(chan struct{})
	go func() {
		defer close(done)
		consistency.CheckoutAll(ctx, client, load, w.Orders, 32, 1, true)
	}()
	// Let the load wake the checkout path first.
	if err := kube.Poll(ctx, 2*time.Minute, time.Second, func(context.Context) (bool, string, error) {
		n := load.Answered()
		return n >= 50, fmt.Sprintf("%d checkouts answered", n), nil
	}); err != nil {
		t.Fatal(err)
	}
	for _, v := range victims {
		killed := forceDelete(t, v)
		t.Logf("%s: force-deleted %s with %d of %d checkouts answered", v, strings.Join(killed, ", "), load.Answered(), len(w.Orders))
		time.Sleep(5 * time.Second)
	}
	if n := load.Answered(); n >= len(w.Orders) {
		t.Fatalf("all %d checkouts were answered before the last kill: make the workload larger", n)
	}
	lastKill := time.Now()
	<-done
	if ctx.Err() != nil {
		t.Fatalf("checkouts still had no answer 10 minutes in: %d of %d answered", load.Answered(), len(w.Orders))
	}
	settled := consistency.WaitSettled(t, countIn, 5*time.Minute)
	t.Logf("REPORT faults: all %d checkouts answered %s after the last kill (%d 5xx or network errors retried); every saga ended %s later",
		len(w.Orders), time.Since(lastKill).Round(time.Second), load.Unavailable, settled.Round(time.Second))
	slowest, err := countIn(ctx, "order", "SELECT coalesce(round(extract(epoch FROM max(decided_at - created_at)) * 1000), 0)::int FROM sagas WHERE "+
		"created_at >= '"+began.UTC().Format(time.RFC3339Nano)+"'::timestamptz")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("REPORT faults: the slowest saga took %s from begin to decision", (time.Duration(slowest) * time.Millisecond).Round(time.Second))
	a := consistency.Audit(t, client, w, load)
	if a.PaidOrders == 0 {
		t.Error("no order was paid")
	}
	consistency.NoOrderPaidTwice(t, countIn, began)
}

// forceDelete deletes v's pods with grace 0, as a node crash would end
// them, and returns their names. A Service the load left idle for a few
// seconds is at zero (6 s windows here): it waits up to a minute for the
// load to wake it, and fails when nothing runs by then.
func forceDelete(t *testing.T, v victim) []string {
	t.Helper()
	var names []string
	err := kube.Poll(context.Background(), time.Minute, time.Second, func(ctx context.Context) (bool, string, error) {
		var l kube.List
		if err := k.Get(ctx, &l, "pods", "-n", v.namespace, "-l", v.selector); err != nil {
			return false, err.Error(), nil
		}
		names = names[:0]
		for _, p := range l.Items {
			if p.Metadata.DeletionTimestamp == "" {
				names = append(names, p.Metadata.Name)
			}
		}
		return len(names) > 0, "no pod to delete", nil
	})
	if err != nil {
		t.Fatalf("%s: %v", v, err)
	}
	args := append([]string{"delete", "pod", "-n", v.namespace, "--grace-period=0", "--force", "--wait=false"}, names...)
	if _, err := k.Run(context.Background(), nil, args...); err != nil {
		t.Fatal(err)
	}
	return names
}
