package payment

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/wdm-knative/webshop/internal/pgtx"
)

// Cancel refunds an order's payment and marks it cancelled, in one
// transaction. Like PayOrder it first locks the user's row: every change to a
// user's payments takes the locks in the same order (user, then payment), so
// pay and cancel cannot deadlock, and a second concurrent cancel waits and
// then finds nothing left to refund.
func (s *Store) Cancel(ctx context.Context, userID, orderID string) (credit int64, err error) {
	err = pgtx.WithTx(ctx, s.db, func(tx pgx.Tx) error {
		var amount int64
		_, err := tx.Exec(ctx, `SELECT 1 FROM users WHERE id = $1 FOR UPDATE`, userID)
		if err == nil {
			err = tx.QueryRow(ctx, `
				SELECT amount FROM order_payments WHERE user_id = $1 AND order_id = $2 AND state = 'paid'`,
				userID, orderID).Scan(&amount)
		}
		if errors.Is(err, pgx.ErrNoRows) {
			// An unknown user has no payment either.
			return fmt.Errorf("of %q: %w", userID, ErrNoPayment)
		}
		if err != nil {
			return err
		}
		err = tx.QueryRow(ctx, `UPDATE users SET credit = credit + $2 WHERE id = $1 RETURNING credit`,
			userID, amount).Scan(&credit)
		if err != nil {
			return fmt.Errorf("refund: %w", err)
		}
		_, err = tx.Exec(ctx, `UPDATE order_payments SET state = 'cancelled' WHERE user_id = $1 AND order_id = $2`,
			userID, orderID)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("cancel order %q: %w", orderID, err)
	}
	return credit, nil
}
