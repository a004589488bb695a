package order

import (
	"context"

	"github.com/wdm-knative/webshop/internal/api"
	"github.com/wdm-knative/webshop/internal/pgtx"
)

// Remove serves DELETE /orders/remove/{order_id} (2023 form): the order and
// its items are deleted; refused (400) once paid or while checking out.
func (h *Handlers) Remove(p *api.Path) api.Run[map[string]bool] {
	id := p.ID("order_id")
	return func(ctx context.Context) (map[string]bool, error) {
		return map[string]bool{"done": true}, h.store.Remove(ctx, id)
	}
}

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
