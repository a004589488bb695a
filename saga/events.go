package saga

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/wdm-knative/webshop/internal/eventhttp"
	"github.com/wdm-knative/webshop/internal/metrics"
	"github.com/wdm-knative/webshop/internal/operation"
	"github.com/wdm-knative/webshop/schemas"
)

// Sender delivers an event to the broker (eventhttp.Sender posts to K_SINK).
type Sender interface {
	Send(ctx context.Context, e event.Event) error
}

// Options tune the checkout's wait and the recovery sweep, and say where
// saga-step reports outcomes. A zero field takes its value from
// DefaultOptions, the one home of these defaults (the function's settings
// leave them zero unless set).
type Options struct {
	// CheckoutTimeout bounds how long a checkout waits for its saga before
	// answering 503 (the saga goes on; a retry joins it).
	CheckoutTimeout time.Duration
	// StallAfter is how long a running saga may go without a change before
	// the sweep re-sends what it waits for.
	StallAfter time.Duration
	// Deadline is how long a saga may stay pending before the sweep gives
	// up on it and compensates (tombstones make that safe even if the
	// replies are merely late).
	Deadline time.Duration
	// SendTimeout bounds handing one event to the broker (the checkout's
	// request, each of the sweep's re-sends). RabbitMQ's broker answers
	// once the event is confirmed in its queue; a channel-based broker only
	// once every Trigger has delivered it, retries and dead letter included
	// (docs/cluster.md), and cutting that short cancels the deliveries.
	SendTimeout time.Duration
	// SweepEvery is the period of the in-process sweep (RunSweeps).
	SweepEvery time.Duration
	// Batch is how many sagas one sweep statement claims.
	Batch int
	// Metrics counts the sagas saga-step decides (nil: not counted).
	Metrics *metrics.Saga
}

// DefaultOptions are the values of the Options fields left zero.
var DefaultOptions = Options{
	CheckoutTimeout: 30 * time.Second,
	StallAfter:      5 * time.Second,
	Deadline:        30 * time.Second,
	SendTimeout:     5 * time.Second,
	SweepEvery:      2 * time.Second,
	Batch:           200,
}

// withDefaults fills the zero fields of o from DefaultOptions.
func (o Options) withDefaults() Options {
	set := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	set(&o.CheckoutTimeout, DefaultOptions.CheckoutTimeout)
	set(&o.StallAfter, DefaultOptions.StallAfter)
	set(&o.Deadline, DefaultOptions.Deadline)
	set(&o.SendTimeout, DefaultOptions.SendTimeout)
	set(&o.SweepEvery, DefaultOptions.SweepEvery)
	if o.Batch <= 0 {
		o.Batch = DefaultOptions.Batch
	}
	return o
}

// Events serves the saga's CloudEvent operations: saga-step (the
// participants' replies) and saga-sweep (the PingSource's tick).
type Events struct {
	store *Store
	sink  Sender
	opts  Options
	log   *slog.Logger
}

// NewEvents returns the saga's event handlers; sink is used by the sweep.
func NewEvents(store *Store, sink Sender, opts Options, log *slog.Logger) *Events {
	return &Events{store: store, sink: sink, opts: opts.withDefaults(), log: log}
}

// Operations maps each saga event operation's name to its handler.
func (h *Events) Operations() map[string]eventhttp.Handler {
	return map[string]eventhttp.Handler{
		operation.SagaStep:  h.OnReply,
		operation.SagaSweep: h.OnPing,
	}
}

// RequestedEvent is the saga's shop.checkout.requested. Its id is the same
// for every (re)send.
func RequestedEvent(sg Saga) (event.Event, error) {
	items := make([]schemas.Item, len(sg.Items))
	for i, it := range sg.Items {
		items[i] = schemas.Item{ItemID: it.ItemID, Quantity: it.Quantity}
	}
	return schemas.New(schemas.RequestedID(sg.ID), schemas.Source(operation.OrderCheckout), schemas.TypeCheckoutRequested,
		schemas.CheckoutRequested{SagaID: sg.ID, OrderID: sg.OrderID, UserID: sg.UserID, Items: items, TotalCost: sg.TotalCost})
}

// CompensateEvent is the saga's shop.checkout.compensate, the same event
// (id, source, data) whether saga-step or the sweep sends it.
func CompensateEvent(sg Saga) (event.Event, error) {
	return schemas.New(schemas.CompensateID(sg.ID), schemas.Source("saga"), schemas.TypeCheckoutCompensate,
		schemas.CheckoutCompensate{SagaID: sg.ID, OrderID: sg.OrderID, UserID: sg.UserID, Reason: failureReason(sg)})
}

// OutcomeEvent is the saga's shop.checkout.paid or shop.checkout.failed,
// for subscribers outside the shop. The deciding step and every later input
// of the final saga build it from the same stored saga, so each copy has the
// same id (one per saga, whatever the outcome) and the same data.
func OutcomeEvent(sg Saga) (event.Event, error) {
	id, source := schemas.OutcomeID(sg.ID), schemas.Source("saga")
	switch sg.State.Status {
	case Paid:
		items := make([]schemas.PricedItem, len(sg.Items))
		for i, it := range sg.Items {
			items[i] = schemas.PricedItem{ItemID: it.ItemID, Quantity: it.Quantity, UnitPrice: it.UnitPrice}
		}
		return schemas.New(id, source, schemas.TypeCheckoutPaid, schemas.CheckoutPaid{
			SagaID: sg.ID, OrderID: sg.OrderID, UserID: sg.UserID, Items: items, TotalCost: sg.TotalCost})
	case Failed:
		return schemas.New(id, source, schemas.TypeCheckoutFailed, schemas.CheckoutFailed{
			SagaID: sg.ID, OrderID: sg.OrderID, UserID: sg.UserID, Reason: failureReason(sg), EverythingReturned: true})
	}
	return event.Event{}, fmt.Errorf("saga %q is %s: no outcome yet", sg.ID, sg.State.Status)
}

// failureReason is why sg compensates; a saga without one was compensated by
// the sweep, whose reason is the deadline.
func failureReason(sg Saga) schemas.Reason {
	if sg.Reason == "" {
		return schemas.ReasonDeadline
	}
	return sg.Reason
}

// emitted builds the event a decision (or the sweep) sends for sg.
func emitted(sg Saga, e Emit) (*event.Event, error) {
	var (
		ev  event.Event
		err error
	)
	switch e {
	case EmitNone:
		return nil, nil
	case EmitRequested:
		ev, err = RequestedEvent(sg)
	case EmitCompensate:
		ev, err = CompensateEvent(sg)
	case EmitPaid, EmitFailed:
		ev, err = OutcomeEvent(sg)
	default:
		return nil, fmt.Errorf("saga %q: unknown emit %d", sg.ID, e)
	}
	if err != nil {
		return nil, err
	}
	return &ev, nil
}
