package order

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/wdm-knative/webshop/internal/api"
	"github.com/wdm-knative/webshop/saga"
	"github.com/wdm-knative/webshop/schemas"
)

// Errors of the checkout, beside ErrOrderNotFound.
var (
	ErrEmptyOrder = api.NewError(api.ErrRejected, "order has no items")
	// ErrCheckoutRunning answers a checkout whose saga outlived the wait:
	// the saga goes on, and a retry joins it (or reads its outcome).
	ErrCheckoutRunning = api.NewError(api.ErrUnavailable, "checkout still running; retry to join it")
)

// sendTimeout bounds handing checkout.requested to the broker; if it does
// not make it, the saga's recovery sweep re-sends it.
const sendTimeout = 5 * time.Second

// Waiter waits for a saga's outcome; *saga.Outcomes is the real one.
type Waiter interface {
	Wait(ctx context.Context, sagaID string) (saga.Outcome, error)
}

// Checkout serves POST /orders/checkout/{order_id}, the checkout saga's
// synchronous answer (API.md, Checkout semantics): 200 once the order is
// paid (at once if it was already), 400 once the saga failed and both
// compensations are confirmed, 404 for an unknown order, 503 when the saga
// is still running after the wait (nothing wrong was answered; a retry
// joins it).
type Checkout struct {
	sagas *saga.Store
	wait  Waiter
	sink  saga.Sender
	// timeout bounds how long a caller waits for the outcome.
	timeout time.Duration
	log     *slog.Logger
}

// DefaultCheckoutTimeout is the wait used when none is given.
const DefaultCheckoutTimeout = 30 * time.Second

// NewCheckout returns the checkout handler.
func NewCheckout(sagas *saga.Store, wait Waiter, sink saga.Sender, timeout time.Duration, log *slog.Logger) *Checkout {
	if timeout <= 0 {
		timeout = DefaultCheckoutTimeout
	}
	return &Checkout{sagas: sagas, wait: wait, sink: sink, timeout: timeout, log: log}
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
	if out.Status != saga.Paid {
		api.WriteError(w, r, c.log, failure(out.Reason))
		return
	}
	api.OK(w, checkoutResponse{OrderID: orderID, Paid: true})
}

// checkout creates or joins the order's saga and waits for its outcome.
func (c *Checkout) checkout(ctx context.Context, orderID string) (saga.Outcome, error) {
	co, err := c.sagas.Begin(ctx, orderID)
	switch {
	case errors.Is(err, saga.ErrOrderNotFound):
		return saga.Outcome{}, fmt.Errorf("%w: %w", ErrOrderNotFound, err)
	case errors.Is(err, saga.ErrEmptyOrder):
		return saga.Outcome{}, fmt.Errorf("%w: %w", ErrEmptyOrder, err)
	case err != nil:
		return saga.Outcome{}, err
	case co.Paid:
		return saga.Outcome{Status: saga.Paid}, nil
	}
	log := c.log.With("order", orderID, "saga", co.Saga.ID)
	if co.Created {
		if err := c.request(ctx, co.Saga); err != nil {
			// The saga is committed; the sweep re-sends what it waits for.
			log.Warn("send checkout.requested failed; left to the sweep", "err", err)
		}
	} else {
		log.Debug("checkout joins running saga")
	}

	waitCtx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	out, err := c.wait.Wait(waitCtx, co.Saga.ID)
	if err != nil {
		if ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded) {
			return saga.Outcome{}, ErrCheckoutRunning
		}
		return saga.Outcome{}, fmt.Errorf("wait for saga %q: %w", co.Saga.ID, err)
	}
	return out, nil
}

func (c *Checkout) request(ctx context.Context, sg saga.Saga) error {
	e, err := saga.RequestedEvent(sg)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), sendTimeout)
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
