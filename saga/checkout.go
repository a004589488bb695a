package saga

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/wdm-knative/webshop/internal/api"
	"github.com/wdm-knative/webshop/schemas"
)

// Checkout serves POST /orders/checkout/{order_id} (operation
// order-checkout), the saga's start and its synchronous answer (API.md,
// Checkout semantics): 200 once the order is paid (at once if it was
// already), 400 once the saga failed and both compensations are confirmed,
// 404 for an unknown order, 503 when the saga is still running after the
// wait (nothing wrong was answered; a retry joins it).
type Checkout struct {
	store    *Store
	outcomes *Outcomes
	sink     Sender
	timeout  time.Duration // for the saga's outcome
	send     time.Duration // for handing checkout.requested to the broker
	sending  sync.WaitGroup
	log      *slog.Logger
}

// NewCheckout returns the checkout handler; outcomes must be running.
func NewCheckout(store *Store, outcomes *Outcomes, sink Sender, opts Options, log *slog.Logger) *Checkout {
	opts = opts.withDefaults()
	return &Checkout{store: store, outcomes: outcomes, sink: sink, timeout: opts.CheckoutTimeout, send: opts.SendTimeout, log: log}
}

// Wait waits for the sends still in flight, or for ctx to end: what a
// stopping function does before it exits.
func (c *Checkout) Wait(ctx context.Context) error {
	done := make(chan struct{})
	go func() { c.sending.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// checkoutResponse is the body of a 200.
type checkoutResponse struct {
	OrderID string `json:"order_id"`
	Paid    bool   `json:"paid"`
}

func (c *Checkout) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p := api.PathOf(r)
	orderID := p.ID("order_id")
	if err := p.Err(); err != nil {
		api.WriteError(w, r, c.log, err)
		return
	}
	out, err := c.checkout(r.Context(), orderID)
	if err != nil {
		api.WriteError(w, r, c.log, err)
		return
	}
	if out.Status != Paid {
		api.WriteError(w, r, c.log, failure(out.Reason))
		return
	}
	api.OK(w, checkoutResponse{OrderID: orderID, Paid: true})
}

// checkout creates or joins the order's saga and waits for its outcome.
func (c *Checkout) checkout(ctx context.Context, orderID string) (Outcome, error) {
	// The new saga's watch is in place before the saga exists, so its
	// outcome cannot be missed and needs no first read.
	id := NewSagaID()
	watch := c.outcomes.Watch(id)
	defer func() { watch.Close() }()
	b, err := c.store.Begin(ctx, orderID, id)
	switch {
	case err != nil:
		return Outcome{}, err
	case b.Paid:
		return Outcome{Status: Paid}, nil
	case b.Created:
		// The broker's answer is not waited for: the outcome is. A
		// channel-based broker answers only once every Trigger has
		// delivered the event (docs/cluster.md), which takes as long as
		// the saga itself, retries and dead letter included. The saga is
		// committed; if the send fails, the sweep re-sends what it waits for.
		c.sending.Add(1)
		go func() {
			defer c.sending.Done()
			if err := c.request(ctx, b.Saga); err != nil {
				c.log.Warn("send checkout.requested failed; left to the sweep", "order", orderID, "saga", b.Saga.ID, "err", err)
			}
		}()
	default:
		// Joining a saga someone else started: it may have been decided
		// between Begin and now, so this watch reads it once.
		watch.Close()
		watch = c.outcomes.Watch(b.Saga.ID)
		if out, ok := watch.read(ctx); ok {
			return out, nil
		}
	}

	waitCtx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	out, err := watch.Wait(waitCtx)
	if err != nil {
		if ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded) {
			return Outcome{}, ErrCheckoutRunning
		}
		return Outcome{}, fmt.Errorf("wait for saga %q: %w", b.Saga.ID, err)
	}
	return out, nil
}

func (c *Checkout) request(ctx context.Context, sg Saga) error {
	e, err := RequestedEvent(sg)
	if err != nil {
		return err
	}
	// If it does not make it in time, the recovery sweep re-sends it.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.send)
	defer cancel()
	return c.sink.Send(ctx, e)
}

// failure is the 400 of a failed saga, saying why in the client's words.
func failure(reason schemas.Reason) error {
	msg := map[schemas.Reason]string{
		schemas.ReasonInsufficientStock:  "not enough stock",
		schemas.ReasonUnknownItem:        "an item does not exist",
		schemas.ReasonInsufficientCredit: "not enough credit",
		schemas.ReasonUnknownUser:        "the user does not exist",
		schemas.ReasonDeadline:           "checkout timed out",
	}[reason]
	if msg == "" {
		msg = "checkout failed"
	}
	return api.NewError(api.ErrRejected, "checkout failed: "+msg)
}
