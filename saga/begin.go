package saga

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Checkout is what Begin found or did for an order.
type Checkout struct {
	// Paid: the order is paid already; nothing runs and nothing is taken.
	Paid bool
	// Saga is the running saga of the order (when not Paid).
	Saga Saga
	// Created: Begin started Saga, so the caller sends its request;
	// otherwise the caller joins a saga someone else started.
	Created bool
}

// Begin starts the checkout of an order, or joins the one running: in one
// transaction it locks the order row (the lock every item change takes
// too), then answers from the order's status and running saga, or snapshots
// the order into a new pending saga and marks the order checking_out.
// Concurrent checkouts of one order queue on the row lock, so the second
// sees the first's saga and joins it.
func (s *Store) Begin(ctx context.Context, orderID string) (Checkout, error) {
	tx, err := s.db.Begin(ctx)
	if err != nil {
		return Checkout{}, fmt.Errorf("checkout %q: %w", orderID, err)
	}
	defer func() { _ = tx.Rollback(ctx) }()

	var (
		userID, status string
		total          int64
	)
	err = tx.QueryRow(ctx, `SELECT user_id, status, total_cost FROM orders WHERE id = $1 FOR UPDATE`, orderID).
		Scan(&userID, &status, &total)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return Checkout{}, fmt.Errorf("checkout %q: %w", orderID, ErrOrderNotFound)
	case err != nil:
		return Checkout{}, fmt.Errorf("checkout %q: %w", orderID, err)
	case status == "paid":
		return Checkout{Paid: true}, nil
	}

	running, err := scanSaga(tx.QueryRow(ctx, `SELECT `+sagaColumns+` FROM sagas
		WHERE order_id = $1 AND status IN ('pending', 'compensating')`, orderID))
	switch {
	case err == nil:
		return Checkout{Saga: running}, nil
	case !errors.Is(err, pgx.ErrNoRows):
		return Checkout{}, fmt.Errorf("checkout %q: running saga: %w", orderID, err)
	}

	rows, err := tx.Query(ctx, `SELECT item_id, quantity, unit_price FROM order_items
		WHERE order_id = $1 ORDER BY item_id`, orderID)
	if err != nil {
		return Checkout{}, fmt.Errorf("checkout %q: items: %w", orderID, err)
	}
	items, err := pgx.CollectRows(rows, pgx.RowToStructByPos[Item])
	if err != nil {
		return Checkout{}, fmt.Errorf("checkout %q: items: %w", orderID, err)
	}
	if len(items) == 0 {
		return Checkout{}, fmt.Errorf("checkout %q: %w", orderID, ErrEmptyOrder)
	}

	sg, err := scanSaga(tx.QueryRow(ctx, `
		INSERT INTO sagas (id, order_id, user_id, items, total_cost, status, stock, payment)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
		RETURNING `+sagaColumns,
		newSagaID(), orderID, userID, items, total, Start.Status, Start.Stock, Start.Payment))
	if err != nil {
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && pgErr.Code == "23505" {
			// Only if something bypassed the order lock; the caller's
			// retry joins the saga that won.
			return Checkout{}, fmt.Errorf("checkout %q: concurrent saga: %w", orderID, err)
		}
		return Checkout{}, fmt.Errorf("checkout %q: create saga: %w", orderID, err)
	}
	if _, err := tx.Exec(ctx, `UPDATE orders SET status = 'checking_out' WHERE id = $1`, orderID); err != nil {
		return Checkout{}, fmt.Errorf("checkout %q: %w", orderID, err)
	}
	if err := tx.Commit(ctx); err != nil {
		return Checkout{}, fmt.Errorf("checkout %q: commit: %w", orderID, err)
	}
	return Checkout{Saga: sg, Created: true}, nil
}

// newSagaID is a random id (26 base32 characters, 130 bits).
func newSagaID() string { return rand.Text() }
