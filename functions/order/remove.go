package order

import (
	"context"

	"github.com/wdm-knative/webshop/internal/pgtx"
)

// Remove deletes an open order and its lines in one statement. The DELETE
// re-checks status on the newest row version, so it cannot remove an order a
// concurrent checkout just took; the EXISTS tells "not open" from "no such
// order" (pgtx.Conditional).
func (s *Store) Remove(ctx context.Context, id string) error {
	_, err := pgtx.Conditional[bool](s.db.QueryRow(ctx, `
		WITH gone AS (DELETE FROM orders WHERE id = $1 AND status = 'open' RETURNING id),
		     lines AS (DELETE FROM order_items WHERE order_id IN (SELECT id FROM gone))
		SELECT (SELECT true FROM gone), EXISTS (SELECT 1 FROM orders WHERE id = $1)`,
		id), ErrOrderNotFound, ErrOrderNotOpen, "remove order %q", id)
	return err
}
