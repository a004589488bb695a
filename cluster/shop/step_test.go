//go:build clustershop

package shop

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wdm-knative/webshop/cluster/internal/kube"
	"github.com/wdm-knative/webshop/e2e/consistency"
)

// The load step: stepWarm orders checked out by two callers bring the
// checkout path to one pod each, then stepCallers callers start at once on
// the rest of stepOrders.
const (
	stepOrders  = 4000
	stepWarm    = 150
	stepCallers = 64
)

// checkoutPath are the Services every checkout crosses.
var checkoutPath = []string{"order-checkout", "stock-reserve", "payment-debit", "saga-step"}

// TestScaleUpOnALoadStep measures how fast the checkout path scales when
// load arrives at once: two callers warm it to one pod per Service, then 64
// callers start at the same instant. For every pod the checkout path's
// Services add, it reports how long after the step the pod was created
// (the autoscaler's decision and the scheduler) and Ready (its containers
// started and its probes passed). order-checkout must add a pod, and the
// audit of every order is exact.
func TestScaleUpOnALoadStep(t *testing.T) {
	withAdminRoutes(t)
	call(t, http.MethodPost, fmt.Sprintf("/stock/batch_init/%d/%d/1", locustItems, startAmount), http.StatusOK, nil)
	call(t, http.MethodPost, fmt.Sprintf("/payment/batch_init/%d/%d", locustUsersN, startAmount), http.StatusOK, nil)
	call(t, http.MethodPost, fmt.Sprintf("/orders/batch_init/%d/%d/%d/1", stepOrders, locustItems, locustUsersN), http.StatusOK, nil)
	orders := make([]string, stepOrders)
	for i := range orders {
		orders[i] = strconv.Itoa(i)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()

	out := consistency.NewOutcome()
	consistency.CheckoutAll(ctx, client, out, orders[:stepWarm], 2, 1, true)
	warm, err := checkoutPods()
	if err != nil {
		t.Fatal(err)
	}
	before := map[string]bool{}
	for _, p := range warm {
		before[p.Metadata.Name] = true
	}

	step := time.Now()
	watch := watchNewPods(before)
	consistency.CheckoutAll(ctx, client, out, orders[stepWarm:], stepCallers, 1, true)
	took := time.Since(step)
	added := watch.stop()
	if ctx.Err() != nil {
		t.Fatalf("the step's checkouts had no answer 10 minutes in: %d of %d answered", out.Answered(), stepOrders)
	}
	t.Logf("REPORT load step: %d callers at once, %d checkouts in %s", stepCallers, stepOrders-stepWarm, took.Round(time.Second))

	// Timestamps are whole seconds; the step is rounded down to match.
	t0 := step.Truncate(time.Second)
	readyAdded := 0
	for _, svc := range checkoutPath {
		for _, p := range added {
			if p.Metadata.Labels["serving.knative.dev/service"] != svc {
				continue
			}
			ready := p.Cond("Ready")
			if ready.Status != "True" {
				t.Logf("REPORT load step: %s pod %s created %s after the step, never Ready while the step ran", svc, p.Metadata.Name,
					p.Metadata.CreationTimestamp.Sub(t0))
				continue
			}
			if svc == checkoutSvc {
				readyAdded++
			}
			t.Logf("REPORT load step: %s pod %s created %s after the step, Ready %s after it", svc, p.Metadata.Name,
				p.Metadata.CreationTimestamp.Sub(t0), ready.LastTransitionTime.Sub(t0))
		}
	}
	if readyAdded == 0 {
		t.Errorf("%s added no Ready pod under %d callers", checkoutSvc, stepCallers)
	}
	auditBatch(t, stepOrders)
}

// checkoutPods are the checkout path's pods that are not terminating.
func checkoutPods() ([]kube.Object, error) {
	var l kube.List
	sel := "serving.knative.dev/service in (" + strings.Join(checkoutPath, ",") + ")"
	if err := k.Get(context.Background(), &l, "pods", "-n", ns, "-l", sel); err != nil {
		return nil, err
	}
	return slices.DeleteFunc(l.Items, func(p kube.Object) bool { return p.Metadata.DeletionTimestamp != "" }), nil
}

// podWatch keeps the last state of every checkout-path pod not in before,
// read every second.
type podWatch struct {
	end  func()
	mu   sync.Mutex
	pods map[string]kube.Object
}

func watchNewPods(before map[string]bool) *podWatch {
	w := &podWatch{pods: map[string]kube.Object{}}
	w.end = every(time.Second, func() {
		pods, _ := checkoutPods() // a missed read is taken again a second later
		w.mu.Lock()
		defer w.mu.Unlock()
		for _, p := range pods {
			if !before[p.Metadata.Name] {
				w.pods[p.Metadata.Name] = p
			}
		}
	})
	return w
}

// stop ends the watch and returns the new pods, oldest first.
func (w *podWatch) stop() []kube.Object {
	w.end()
	pods := slices.Collect(maps.Values(w.pods))
	slices.SortFunc(pods, func(a, b kube.Object) int { return a.Metadata.CreationTimestamp.Compare(b.Metadata.CreationTimestamp) })
	return pods
}
