package schematest

import (
	"context"
	"errors"
	"testing"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/wdm-knative/webshop/internal/eventhttp"
	"github.com/wdm-knative/webshop/schemas"
)

// Requested is the checkout.requested event of req, as order-checkout sends it.
func Requested(req schemas.CheckoutRequested) event.Event {
	return mustNew(schemas.RequestedID(req.SagaID), "order-checkout", schemas.TypeCheckoutRequested, req)
}

// Compensate is the checkout.compensate event of c, as saga-step sends it.
func Compensate(c schemas.CheckoutCompensate) event.Event {
	return mustNew(schemas.CompensateID(c.SagaID), "saga-step", schemas.TypeCheckoutCompensate, c)
}

func mustNew(id, source, typ string, data schemas.Data) event.Event {
	e, err := schemas.New(id, schemas.Source(source), typ, data)
	if err != nil {
		panic(err)
	}
	return e
}

// CheckPermanent fails the test unless every handler of ops refuses an
// event of type typ carrying data, which does not fit its schema, with
// eventhttp.ErrPermanent, so the broker does not retry it.
func CheckPermanent(t *testing.T, ops map[string]eventhttp.Handler, typ string, data any) {
	t.Helper()
	bad := event.New()
	bad.SetID("x")
	bad.SetSource("/test")
	bad.SetType(typ)
	if err := bad.SetData(event.ApplicationJSON, data); err != nil {
		t.Fatal(err)
	}
	for name, h := range ops {
		t.Run(name, func(t *testing.T) {
			if _, err := h(context.Background(), bad); !errors.Is(err, eventhttp.ErrPermanent) {
				t.Errorf("got %v, want a permanent error", err)
			}
		})
	}
}
