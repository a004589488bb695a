package order

import (
	"context"
	"fmt"

	"github.com/wdm-knative/webshop/internal/api"
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
// order".
func (s *Store) Remove(ctx context.Context, id string) error {
	var removed, exists bool
	err := s.db.QueryRow(ctx, `
		WITH gone AS (DELETE FROM orders WHERE id = $1 AND status = 'open' RETURNING id),
		     lines AS (DELETE FROM order_items WHERE order_id IN (SELECT id FROM gone))
		SELECT EXISTS (SELECT 1 FROM gone), EXISTS (SELECT 1 FROM orders WHERE id = $1)`,
		id).Scan(&removed, &exists)
	switch {
	case err != nil:
		return fmt.Errorf("remove order %q: %w", id, err)
	case removed:
		return nil
	case !exists:
		return fmt.Errorf("remove order %q: %w", id, ErrOrderNotFound)
	default:
		return fmt.Errorf("remove order %q: %w", id, ErrOrderNotOpen)
	}
}
