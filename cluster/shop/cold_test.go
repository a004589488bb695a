//go:build clustershop

package shop

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/wdm-knative/webshop/cluster/internal/clustertest"
	"github.com/wdm-knative/webshop/cluster/internal/kube"
)

func TestEverythingIsReady(t *testing.T) {
	for _, kind := range []string{"services.serving.knative.dev", "triggers.eventing.knative.dev",
		"brokers.eventing.knative.dev", "sinkbindings.sources.knative.dev", "pingsources.sources.knative.dev"} {
		var l kube.List
		if err := k.Get(context.Background(), &l, kind, "-n", ns); err != nil {
			t.Fatal(err)
		}
		if len(l.Items) == 0 {
			t.Errorf("no %s", kind)
		}
		for _, o := range l.Items {
			if c := o.Cond("Ready"); c.Status != "True" {
				t.Errorf("%s %s not Ready: %s %s", kind, o.Metadata.Name, c.Reason, c.Message)
			}
		}
		if kind == "services.serving.knative.dev" && len(l.Items) != 26 {
			t.Errorf("%d Knative Services, want 26", len(l.Items))
		}
	}
}

// Every Service that sends events (label webshop.wdm/sink=broker) has
// K_SINK in its template, put there by the SinkBinding.
func TestSinkIsInjected(t *testing.T) {
	var l ksvcList
	if err := k.Get(context.Background(), &l, "ksvc", "-n", ns, "-l", "webshop.wdm/sink=broker"); err != nil {
		t.Fatal(err)
	}
	if len(l.Items) == 0 {
		t.Fatal("no Service sends events")
	}
	for _, s := range l.Items {
		sink := ""
		for _, c := range s.Spec.Template.Spec.Containers {
			for _, e := range c.Env {
				if e.Name == "K_SINK" {
					sink = e.Value
				}
			}
		}
		if !strings.Contains(sink, "broker-ingress") {
			t.Errorf("%s: K_SINK=%q, want the broker's ingress", s.Metadata.Name, sink)
		}
	}
}

// The public surface refuses what only the cluster may do.
func TestEventsAndBatchInitAreNotPublic(t *testing.T) {
	for _, path := range []string{"/events/checkout", "/events/stock-reserve", "/stock/batch_init/1/1/1", "/payment/batch_init/1/1", "/orders/batch_init/1/1/1/1"} {
		code, body, err := clustertest.Request(info.Ingress, http.MethodPost, "", path, "{}")
		if err != nil {
			t.Fatal(err)
		}
		if code < 400 || code >= 500 {
			t.Errorf("POST %s through the ingress: %d %s, want a refusal", path, code, body)
		}
	}
}

// ksvcList is what the tests read of Knative Services: name, template
// annotations and container env.
type ksvcList struct {
	Items []struct {
		Metadata struct {
			Name string `json:"name"`
		} `json:"metadata"`
		Spec struct {
			Template struct {
				Metadata struct {
					Annotations map[string]string `json:"annotations"`
				} `json:"metadata"`
				Spec struct {
					Containers []struct {
						Env []struct{ Name, Value string } `json:"env"`
					} `json:"containers"`
				} `json:"spec"`
			} `json:"template"`
		} `json:"spec"`
	} `json:"items"`
}

type item struct {
	ID    string `json:"item_id"`
	Stock int64  `json:"stock"`
	Price int64  `json:"price"`
}

type user struct {
	ID     string `json:"user_id"`
	Credit int64  `json:"credit"`
}

// basket is an item, a user and an order of the item for the user, made
// through the public API.
type basket struct {
	item  item
	user  user
	order string
}

// newBasket makes an item of price with stock, a user with credit and an
// order of qty of the item for the user.
func newBasket(t *testing.T, price, stock, credit, qty int64) basket {
	t.Helper()
	var b basket
	call(t, http.MethodPost, fmt.Sprintf("/stock/item/create/%d", price), http.StatusOK, &b.item)
	call(t, http.MethodPost, fmt.Sprintf("/stock/add/%s/%d", b.item.ID, stock), http.StatusOK, nil)
	call(t, http.MethodPost, "/payment/create_user", http.StatusOK, &b.user)
	call(t, http.MethodPost, fmt.Sprintf("/payment/add_funds/%s/%d", b.user.ID, credit), http.StatusOK, nil)
	b.order = newOrder(t, b.user.ID, b.item.ID, qty)
	return b
}

// newOrder makes an order of qty of an item for a user.
func newOrder(t *testing.T, user, item string, qty int64) string {
	t.Helper()
	var order struct {
		ID string `json:"order_id"`
	}
	call(t, http.MethodPost, "/orders/create/"+user, http.StatusOK, &order)
	call(t, http.MethodPost, fmt.Sprintf("/orders/addItem/%s/%s/%d", order.ID, item, qty), http.StatusOK, nil)
	return order.ID
}

// A checkout sent while the checkout path is at zero pods is answered and
// exact: the saga's events cross the Broker to Services that start cold.
func TestCheckoutFromZeroAcrossTheBroker(t *testing.T) {
	b := newBasket(t, 7, 5, 100, 3)
	it, u := b.item, b.user

	path := []string{"order-checkout", "stock-reserve", "payment-debit", "saga-step"}
	for _, svc := range path {
		clustertest.WaitZero(t, k, ns, svc, 4*time.Minute)
	}
	start := time.Now()
	call(t, http.MethodPost, "/orders/checkout/"+b.order, http.StatusOK, nil)
	t.Logf("REPORT checkout with %s at zero pods: %s", strings.Join(path, ", "), time.Since(start).Round(time.Millisecond))

	var after user
	call(t, http.MethodGet, "/payment/find_user/"+u.ID, http.StatusOK, &after)
	var left item
	call(t, http.MethodGet, "/stock/find/"+it.ID, http.StatusOK, &left)
	if after.Credit != 100-3*7 || left.Stock != 5-3 {
		t.Fatalf("after the checkout: credit %d (want 79), stock %d (want 2)", after.Credit, left.Stock)
	}
	var got struct {
		Paid bool `json:"paid"`
	}
	call(t, http.MethodGet, "/orders/find/"+b.order, http.StatusOK, &got)
	if !got.Paid {
		t.Fatal("order not paid after a 200 checkout")
	}

	// Out of stock: a 4xx, and nothing taken.
	second := newOrder(t, u.ID, it.ID, 3)
	code, body, err := clustertest.Request(info.Ingress, http.MethodPost, "", "/orders/checkout/"+second, "")
	if err != nil || code < 400 || code >= 500 {
		t.Fatalf("checkout of 3 with 2 in stock: %d %s %v, want a 4xx", code, body, err)
	}
	call(t, http.MethodGet, "/payment/find_user/"+u.ID, http.StatusOK, &after)
	call(t, http.MethodGet, "/stock/find/"+it.ID, http.StatusOK, &left)
	if after.Credit != 79 || left.Stock != 2 {
		t.Fatalf("after the refused checkout: credit %d (want 79), stock %d (want 2)", after.Credit, left.Stock)
	}
}

// After the idle window every Service with min-scale 0 has no pods.
func TestIdleServicesScaleToZero(t *testing.T) {
	var l ksvcList
	if err := k.Get(context.Background(), &l, "ksvc", "-n", ns); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, s := range l.Items {
		if min := s.Spec.Template.Metadata.Annotations["autoscaling.knative.dev/min-scale"]; min != "" && min != "0" {
			continue
		}
		clustertest.WaitZero(t, k, ns, s.Metadata.Name, 4*time.Minute)
		n++
	}
	if n == 0 {
		t.Fatal("no Service may scale to zero")
	}
	t.Logf("REPORT %d Services at zero pods", n)
}
