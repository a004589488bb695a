package payment

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/wdm-knative/webshop/internal/pgtx"
)

// Pay takes amount from a user's credit if enough is left, in one
// conditional UPDATE (row lock + re-check on the newest version, so
// concurrent payments never overdraw) and returns the credit left.
func (s *Store) Pay(ctx context.Context, userID string, amount int64) (int64, error) {
	return pgtx.Conditional[int64](s.db.QueryRow(ctx, `
		WITH taken AS (
			UPDATE users SET credit = credit - $2 WHERE id = $1 AND credit >= $2 RETURNING credit
		)
		SELECT (SELECT credit FROM taken), EXISTS (SELECT 1 FROM users WHERE id = $1)`,
		userID, amount), ErrUserNotFound, ErrInsufficientCredit, "pay %d from %q", amount, userID)
}

// PayOrder takes amount from the user's credit for an order and records it.
// Paying an order that is already paid takes nothing and succeeds (a retried
// request must not charge twice); an order whose payment was cancelled can be
// paid again. The user row is locked first, so concurrent payments of one
// order serialise on it and the second sees the first's record.
func (s *Store) PayOrder(ctx context.Context, userID, orderID string, amount int64) (credit int64, err error) {
	err = pgtx.WithTx(ctx, s.db, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, `SELECT credit FROM users WHERE id = $1 FOR UPDATE`, userID).Scan(&credit)
		if errors.Is(err, pgx.ErrNoRows) {
			return ErrUserNotFound
		}
		if err != nil {
			return err
		}
		var state string
		err = tx.QueryRow(ctx, `SELECT state FROM order_payments WHERE user_id = $1 AND order_id = $2`,
			userID, orderID).Scan(&state)
		switch {
		case err == nil && state == "paid":
			return nil // paid before: take nothing, commit nothing
		case err != nil && !errors.Is(err, pgx.ErrNoRows):
			return err
		case credit < amount:
			return ErrInsufficientCredit
		}
		err = tx.QueryRow(ctx, `UPDATE users SET credit = credit - $2 WHERE id = $1 RETURNING credit`,
			userID, amount).Scan(&credit)
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `
			INSERT INTO order_payments (user_id, order_id, amount, state) VALUES ($1, $2, $3, 'paid')
			ON CONFLICT (user_id, order_id) DO UPDATE SET amount = EXCLUDED.amount, state = 'paid'`,
			userID, orderID, amount)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("pay order %q: %w", orderID, err)
	}
	return credit, nil
}
