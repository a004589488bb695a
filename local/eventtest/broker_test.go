package eventtest_test

import (
	"context"
	"log/slog"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/wdm-knative/webshop/internal/eventhttp"
	"github.com/wdm-knative/webshop/internal/operation"
	"github.com/wdm-knative/webshop/local/eventtest"
	"github.com/wdm-knative/webshop/schemas"
)

func requested(t *testing.T) event.Event {
	t.Helper()
	e, err := schemas.New(schemas.RequestedID("s1"), schemas.Source(operation.OrderCheckout), schemas.TypeCheckoutRequested,
		schemas.CheckoutRequested{SagaID: "s1", OrderID: "o1", UserID: "u1",
			Items: []schemas.Item{{ItemID: "i1", Quantity: 1}}, TotalCost: 1})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// counting subscribes a handler that counts deliveries and replies nothing.
func counting(n *atomic.Int64) eventhttp.Handler {
	return func(context.Context, event.Event) (*event.Event, error) {
		n.Add(1)
		return nil, nil
	}
}

func TestBroker(t *testing.T) {
	cases := []struct {
		name string
		opts []eventtest.Option
		http bool
		want int64 // deliveries to each of the two subscribers
	}{
		{"queued, reliable", nil, false, 1},
		{"async, reliable", []eventtest.Option{eventtest.Async()}, false, 1},
		{"async, every delivery twice", []eventtest.Option{eventtest.Async(), eventtest.Duplicates(1)}, false, 2},
		{"every send lost", []eventtest.Option{eventtest.Drops(1)}, false, 0},
		{"over HTTP", []eventtest.Option{eventtest.Async()}, true, 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var stock, payment atomic.Int64
			b := eventtest.New(t, c.opts...)
			if c.http {
				srv := httptest.NewServer(eventhttp.New("stock-reserve", counting(&stock), slog.New(slog.DiscardHandler)))
				defer srv.Close()
				b.Subscribe(operation.StockReserve, eventtest.Poster(srv.URL))
			} else {
				b.Subscribe(operation.StockReserve, counting(&stock))
			}
			b.Subscribe(operation.PaymentDebit, counting(&payment))
			if err := b.Send(context.Background(), requested(t)); err != nil {
				t.Fatal(err)
			}
			b.Drain(2)
			b.Wait()
			if stock.Load() != c.want || payment.Load() != c.want {
				t.Errorf("delivered %d to stock and %d to payment, want %d each", stock.Load(), payment.Load(), c.want)
			}
		})
	}
	t.Run("down", func(t *testing.T) {
		b := eventtest.New(t)
		b.SetDown(true)
		if err := b.Send(context.Background(), requested(t)); err == nil {
			t.Error("a down ingress took an event")
		}
	})
}
