package saga

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/wdm-knative/webshop/internal/eventhttp"
	"github.com/wdm-knative/webshop/schemas"
)

// Step handles a participant's reply (operation saga-step): it moves the
// saga and its order in one transaction and answers checkout.compensate when
// the saga decides (or re-decides) to compensate.
func (h *Events) Step(ctx context.Context, in event.Event) (*event.Event, error) {
	data, err := schemas.Decode(in)
	if err != nil {
		return nil, eventhttp.Permanent(err)
	}
	input, reason, ok := inputOf(data)
	if !ok {
		return nil, eventhttp.Permanent(fmt.Errorf("saga-step does not take %s", in.Type()))
	}
	sg, d, err := h.store.Apply(ctx, data.Saga(), input, reason)
	if errors.Is(err, ErrSagaNotFound) {
		// Sagas commit before their first event is sent, so this reply
		// belongs to no saga of this database: dead-letter it.
		return nil, eventhttp.Permanent(err)
	}
	if err != nil {
		return nil, err
	}
	if d.Order != OrderUnchanged {
		// This input, just committed, decided the saga (Order is set only
		// on the transition into Paid or Failed): count it once here, not
		// on redeliveries, which final states absorb. The clocks of
		// created_at (Postgres) and this process may differ slightly.
		h.opts.Metrics.Decided(string(sg.State.Status), time.Since(sg.CreatedAt))
	}
	// Debug, not Info: one line per reply is too much at benchmark load.
	h.log.Debug("saga step", "saga", sg.ID, "order", sg.OrderID, "input", input.String(),
		"state", sg.State.String(), "emit", d.Emit.String(), "reason", sg.Reason)
	return emitted(sg, d.Emit)
}

// inputOf maps a reply to the machine's input; reason is set for rejections.
func inputOf(d schemas.Data) (Input, schemas.Reason, bool) {
	switch d := d.(type) {
	case schemas.StockReserved:
		return StockReserved, "", true
	case schemas.StockRejected:
		return StockRejected, d.Reason, true
	case schemas.PaymentDebited:
		return PaymentDebited, "", true
	case schemas.PaymentRejected:
		return PaymentRejected, d.Reason, true
	case schemas.StockReleased:
		return StockReleased, "", true
	case schemas.PaymentRefunded:
		return PaymentRefunded, "", true
	}
	return 0, "", false
}

// Apply feeds one input to a saga in one transaction: load and lock the
// saga, run the machine, save the new state, move the order (paid, or open
// again), notify waiters of a final state. The decision is returned even
// when nothing changed, since a redelivered input must yield the same event.
// reason is recorded when the saga enters compensation.
func (s *Store) Apply(ctx context.Context, id string, in Input, reason schemas.Reason) (Saga, Decision, error) {
	tx, err := s.db.Begin(ctx)
	if err != nil {
		return Saga{}, Decision{}, fmt.Errorf("saga %q: %w", id, err)
	}
	defer func() { _ = tx.Rollback(ctx) }()

	sg, err := lockSaga(ctx, tx, id)
	if err != nil {
		return Saga{}, Decision{}, err
	}
	d := Apply(sg.State, in)
	if !d.Changed(sg.State) {
		return sg, d, nil
	}
	if sg.State.Status == Pending && d.Next.Status == Compensating && sg.Reason == "" {
		sg.Reason = reason
		if in == Deadline {
			sg.Reason = schemas.ReasonDeadline
		}
	}
	sg.State = d.Next
	if err := save(ctx, tx, sg, false); err != nil {
		return Saga{}, Decision{}, err
	}
	switch d.Order {
	case OrderPaid:
		err = setOrderStatus(ctx, tx, sg.OrderID, "paid")
	case OrderOpen:
		err = setOrderStatus(ctx, tx, sg.OrderID, "open")
	}
	if err != nil {
		return Saga{}, Decision{}, err
	}
	if err := tx.Commit(ctx); err != nil {
		return Saga{}, Decision{}, fmt.Errorf("saga %q: commit: %w", id, err)
	}
	return sg, d, nil
}
