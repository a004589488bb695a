package function

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"

	"github.com/wdm-knative/webshop/functions/functiontest"
	"github.com/wdm-knative/webshop/internal/metrics/metricstest"
	"github.com/wdm-knative/webshop/internal/operation"
	"github.com/wdm-knative/webshop/local/eventtest"
	"github.com/wdm-knative/webshop/local/testenv"
	"github.com/wdm-knative/webshop/schemas"
)

// TestCheckoutThroughFunctions checks the wiring of the checkout: three
// Functions (stock, payment, order+saga) joined by HTTP and the eventtest
// broker over HTTP, as the local stack does (events in binary mode, replies
// in responses). The checkout's behaviour is tested in saga/.
func TestCheckoutThroughFunctions(t *testing.T) {
	b := eventtest.New(t, eventtest.Async())
	_, stockSrv := started(t, Config{Function: "stock", StockDSN: testenv.NewDatabase(t)})
	_, paySrv := started(t, Config{Function: "payment", PaymentDSN: testenv.NewDatabase(t)})
	orderFn, orderSrv := started(t, Config{
		Function: "order,saga", OrderDSN: testenv.NewDatabase(t),
		StockURL: stockSrv.URL, PaymentURL: paySrv.URL, Sink: b.URL(),
		CheckoutTimeout: 20 * time.Second,
	})
	for base, ops := range map[string][]string{
		stockSrv.URL: {operation.StockReserve, operation.StockRelease},
		paySrv.URL:   {operation.PaymentDebit, operation.PaymentRefund},
		orderSrv.URL: {operation.SagaStep},
	} {
		for _, op := range ops {
			b.SubscribeHTTP(op, base)
		}
	}

	item := functiontest.NewItem(t, stockSrv.URL, 2, 3)
	rich := functiontest.NewUser(t, paySrv.URL, 10)
	poor := functiontest.NewUser(t, paySrv.URL, 1)

	cases := []struct {
		name       string
		user       string
		want       int
		wantStock  float64
		wantCredit float64
	}{
		{"not enough credit", poor, http.StatusBadRequest, 3, 1},
		{"paid", rich, http.StatusOK, 1, 6},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			o := functiontest.NewOrder(t, orderSrv.URL, c.user, map[string]int64{item: 2})
			if code, body := call(t, "POST", orderSrv.URL+"/orders/checkout/"+o); code != c.want {
				t.Fatalf("checkout = %d %v, want %d", code, body, c.want)
			}
			if got := testenv.MustJSON(t, "GET", stockSrv.URL+"/stock/find/"+item)["stock"]; got != c.wantStock {
				t.Errorf("stock %v, want %v", got, c.wantStock)
			}
			if got := testenv.MustJSON(t, "GET", paySrv.URL+"/payment/find_user/"+c.user)["credit"]; got != c.wantCredit {
				t.Errorf("credit %v, want %v", got, c.wantCredit)
			}
		})
	}

	t.Run("a ping runs the sweep", func(t *testing.T) {
		ping := event.New()
		ping.SetID("ping-1")
		ping.SetSource("/test/pingsource")
		ping.SetType(schemas.TypePing)
		req, err := cehttp.NewHTTPRequestFromEvent(context.Background(), orderSrv.URL+"/events/saga-sweep", ping)
		if err != nil {
			t.Fatal(err)
		}
		if code := status(t, req); code != http.StatusNoContent {
			t.Errorf("sweep answered %d", code)
		}
	})

	t.Run("a malformed event is refused for good", func(t *testing.T) {
		if code := postEvent(t, orderSrv.URL+"/events/saga-step", "x", schemas.TypeStockReserved, `{}`, nil); code != http.StatusBadRequest {
			t.Errorf("answered %d, want 400 (dead-letter, no retry)", code)
		}
	})

	t.Run("metrics of the order and saga process", func(t *testing.T) {
		want := map[string]float64{
			metricstest.Key("wdm_saga_outcomes_total", "outcome", "paid"):                            1,
			metricstest.Key("wdm_saga_outcomes_total", "outcome", "failed"):                          1,
			"wdm_saga_duration_seconds_count":                                                        2,
			metricstest.Key("wdm_http_requests_total", "operation", "order-checkout", "code", "200"): 1,
			metricstest.Key("wdm_http_requests_total", "operation", "order-checkout", "code", "400"): 1,
			metricstest.Key("wdm_http_requests_total", "operation", "saga-sweep", "code", "204"):     1,
			metricstest.Key("wdm_http_requests_total", "operation", "saga-step", "code", "400"):      1,
		}
		// Replies to the two checkouts: four forward, two compensating; 200
		// carries a checkout.compensate back, 204 nothing.
		stepsOK := func(got metricstest.Samples) float64 {
			return got.Get("wdm_http_requests_total", "operation", "saga-step", "code", "200") +
				got.Get("wdm_http_requests_total", "operation", "saga-step", "code", "204")
		}
		// The saga-step that decided a saga counts it after its commit,
		// which the waiting checkout may answer a moment before, and a
		// compensation's reply may still be on its way then.
		var got metricstest.Samples
		for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			got = metricstest.Scrape(t, http.HandlerFunc(orderFn.Handle))
			if got[metricstest.Key("wdm_saga_outcomes_total", "outcome", "failed")] >= 1 &&
				got[metricstest.Key("wdm_saga_outcomes_total", "outcome", "paid")] >= 1 &&
				stepsOK(got) >= 6 || time.Now().After(deadline) {
				break
			}
		}
		for k, v := range want {
			if got[k] != v {
				t.Errorf("%s = %v, want %v", k, got[k], v)
			}
		}
		if ok := stepsOK(got); ok < 6 {
			t.Errorf("saga-step answered 2xx %v times, want at least 6", ok)
		}
	})
}

func TestCheckoutNeedsASink(t *testing.T) {
	dsn := "postgres://u@127.0.0.1:1/db"
	for _, fn := range []string{"order-checkout", "saga-sweep"} {
		t.Run(fn, func(t *testing.T) {
			err := New().StartWith(context.Background(), Config{Function: fn, OrderDSN: dsn})
			if err == nil || !strings.Contains(err.Error(), "K_SINK") {
				t.Errorf("StartWith = %v, want an error naming K_SINK", err)
			}
			err = New().StartWith(context.Background(), Config{Function: fn, OrderDSN: dsn, Sink: "not a url"})
			if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("K_SINK=%q", "not a url")) {
				t.Errorf("StartWith = %v, want K_SINK refused", err)
			}
		})
	}
}
