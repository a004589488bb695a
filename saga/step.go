package saga

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/jackc/pgx/v5"

	"github.com/wdm-knative/webshop/internal/eventhttp"
	"github.com/wdm-knative/webshop/internal/pgtx"
	"github.com/wdm-knative/webshop/schemas"
)

// OnReply handles a participant's reply (operation saga-step): it moves the
// saga and its order in one statement and answers checkout.compensate when
// the saga decides (or re-decides) to compensate, and the outcome event
// (checkout.paid, checkout.failed) when the saga is decided or already was.
// The waiting checkout does not wait for that reply: the deciding commit's
// pg_notify wakes it.
func (h *Events) OnReply(ctx context.Context, in event.Event) (*event.Event, error) {
	data, err := schemas.Decode(in)
	if err != nil {
		return nil, eventhttp.Permanent(err)
	}
	input, reason, ok := inputOf(data)
	if !ok {
		return nil, eventhttp.Permanent(fmt.Errorf("saga-step does not take %s", in.Type()))
	}
	sg, d, err := h.store.Advance(ctx, data.Saga(), input, reason)
	if errors.Is(err, ErrSagaNotFound) {
		// Sagas commit before their first event is sent, so this reply
		// belongs to no saga of this database: refuse it for good.
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
	// Debug, not Info: one line per reply is too much at benchmark load;
	// and checked first, so no attribute is formatted when it is off.
	if h.log.Enabled(ctx, slog.LevelDebug) {
		h.log.Debug("saga step", "saga", sg.ID, "order", sg.OrderID, "input", input.String(),
			"state", sg.State.String(), "emit", d.Emit.String(), "reason", sg.Reason)
	}
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

// Advance feeds one input to a saga in one statement (saga_step): under the
// saga's row lock it applies the machine's transition (kept in Postgres as
// the saga_transitions table, which TestTransitionsInPostgres holds equal to
// Transition), saves the new state, moves the order (paid, or open again)
// and notifies waiters of a final state. The decision is returned even when
// nothing changed, since a redelivered input must yield the same event.
// reason is recorded when the saga enters compensation.
func (s *Store) Advance(ctx context.Context, id string, in Input, reason schemas.Reason) (Saga, Decision, error) {
	type result struct {
		sg    Saga
		emit  string
		order string
	}
	r, err := pgtx.Retry(ctx, func(ctx context.Context) (result, error) {
		r := result{sg: Saga{ID: id}}
		err := s.db.QueryRow(ctx, `SELECT order_id, user_id, items, total_cost, status, stock, payment, reason,
			created_at, emit, order_change FROM saga_step($1, $2, $3)`, id, in.String(), string(reason)).
			Scan(&r.sg.OrderID, &r.sg.UserID, &r.sg.Items, &r.sg.TotalCost, &r.sg.State.Status, &r.sg.State.Stock,
				&r.sg.State.Payment, &r.sg.Reason, &r.sg.CreatedAt, &r.emit, &r.order)
		return r, err
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return Saga{}, Decision{}, fmt.Errorf("saga %q: %w", id, ErrSagaNotFound)
	}
	if err != nil {
		return Saga{}, Decision{}, fmt.Errorf("saga %q: %w", id, err)
	}
	d := Decision{Next: r.sg.State, Emit: emitNamed[r.emit], Order: orderChangeNamed[r.order]}
	return r.sg, d, nil
}

// The names saga_transitions gives emits and order changes.
var (
	emitNamed = map[string]Emit{"none": EmitNone, "requested": EmitRequested, "compensate": EmitCompensate,
		"paid": EmitPaid, "failed": EmitFailed}
	orderChangeNamed = map[string]OrderChange{"none": OrderUnchanged, "paid": OrderPaid, "open": OrderOpen}
)
