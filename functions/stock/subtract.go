package stock

import (
	"context"

	"github.com/wdm-knative/webshop/internal/pgtx"
)

// Subtract serves POST /stock/subtract/{item_id}/{amount} (amount > 0): it
// lowers an item's stock if enough is left, in one statement, and returns
// the new level; 400 when the stock would go below 0, and then nothing
// changes. The conditional UPDATE takes the row lock and re-checks
// `stock >= amount` on the newest row version, so concurrent subtracts never
// oversell. The second SELECT tells "not enough" from "no such item" in the
// same round trip.
func (s *Store) Subtract(ctx context.Context, id string, amount int64) (int64, error) {
	return pgtx.Conditional[int64](s.db.QueryRow(ctx, `
		WITH taken AS (
			UPDATE items SET stock = stock - $2 WHERE id = $1 AND stock >= $2 RETURNING stock
		)
		SELECT (SELECT stock FROM taken), EXISTS (SELECT 1 FROM items WHERE id = $1)`,
		id, amount), ErrItemNotFound, ErrInsufficientStock, "subtract %d from %q", amount, id)
}
