package order

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/wdm-knative/webshop/internal/pgtx"
)

// RemoveItem takes one unit of an item out of an open order and returns the
// new total. The last unit deletes the line (quantity stays > 0 by constraint).
func (s *Store) RemoveItem(ctx context.Context, orderID, itemID string) (total int64, err error) {
	err = pgtx.WithTx(ctx, s.db, func(tx pgx.Tx) error {
		if err := lockOpen(ctx, tx, orderID); err != nil {
			return err
		}
		var price int64
		err := tx.QueryRow(ctx, `
			DELETE FROM order_items WHERE order_id = $1 AND item_id = $2 AND quantity = 1 RETURNING unit_price`,
			orderID, itemID).Scan(&price)
		if errors.Is(err, pgx.ErrNoRows) {
			err = tx.QueryRow(ctx, `
				UPDATE order_items SET quantity = quantity - 1 WHERE order_id = $1 AND item_id = $2 RETURNING unit_price`,
				orderID, itemID).Scan(&price)
		}
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("remove %q: %w", itemID, ErrItemNotInOrder)
		}
		if err != nil {
			return err
		}
		return tx.QueryRow(ctx, `UPDATE orders SET total_cost = total_cost - $2 WHERE id = $1 RETURNING total_cost`,
			orderID, price).Scan(&total)
	})
	if err != nil {
		return 0, fmt.Errorf("remove item from %q: %w", orderID, err)
	}
	return total, nil
}
