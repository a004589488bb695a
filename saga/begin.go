package saga

import (
	"context"
	"crypto/rand"
	"fmt"

	"github.com/wdm-knative/webshop/internal/pgtx"
)

// Begun is what Begin found or did for an order.
type Begun struct {
	// Paid: the order is paid already; nothing runs and nothing is taken.
	Paid bool
	// Saga is the running saga of the order (when not Paid). A joined saga
	// carries its ID, UserID, Items and TotalCost only.
	Saga Saga
	// Created: Begin started Saga, so the caller sends its request;
	// otherwise the caller joins a saga someone else started.
	Created bool
}

// Begin starts the checkout of an order as a new saga with id sagaID, or
// joins the one running, in one statement (checkout_begin): under the
// order's row lock it answers from the order's status and running saga, or
// snapshots the order into a new pending saga and marks the order
// checking_out. Concurrent checkouts of one order queue on the row lock, so
// the later ones see the first's saga and join it.
func (s *Store) Begin(ctx context.Context, orderID, sagaID string) (Begun, error) {
	type result struct {
		outcome string
		saga    Saga
	}
	r, err := pgtx.Retry(ctx, func(ctx context.Context) (result, error) {
		// Columns the outcome does not fill are NULL.
		var (
			r        result
			id, user *string
			total    *int64
		)
		err := s.db.QueryRow(ctx, `SELECT outcome, saga_id, user_id, items, total_cost FROM checkout_begin($1, $2)`,
			orderID, sagaID).Scan(&r.outcome, &id, &user, &r.saga.Items, &total)
		r.saga.ID, r.saga.UserID, r.saga.TotalCost = deref(id), deref(user), deref(total)
		return r, err
	})
	if err != nil {
		return Begun{}, fmt.Errorf("checkout %q: %w", orderID, err)
	}
	r.saga.OrderID = orderID
	switch r.outcome {
	case "not_found":
		return Begun{}, fmt.Errorf("checkout %q: %w", orderID, ErrOrderNotFound)
	case "empty":
		return Begun{}, fmt.Errorf("checkout %q: %w", orderID, ErrEmptyOrder)
	case "paid":
		return Begun{Paid: true}, nil
	case "joined":
		return Begun{Saga: r.saga}, nil
	case "created":
		r.saga.State = Start
		return Begun{Saga: r.saga, Created: true}, nil
	}
	return Begun{}, fmt.Errorf("checkout %q: unknown outcome %q", orderID, r.outcome)
}

// deref is the value p points to, or the zero value for nil (SQL NULL).
func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

// NewSagaID is a random saga id (26 base32 characters, 130 bits).
func NewSagaID() string { return rand.Text() }
