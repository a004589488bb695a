package stock

import (
	"context"
	"fmt"
	"net/http"

	"github.com/wdm-knative/webshop/internal/api"
)

// Subtract serves POST /stock/subtract/{item_id}/{amount} (amount > 0); 400
// when the stock would go below 0, and then nothing changes.
func (h *Handlers) Subtract(w http.ResponseWriter, r *http.Request) {
	p := api.PathOf(r)
	id, amount := p.ID("item_id"), p.Positive("amount")
	api.Answer(w, r, h.log, p, func(ctx context.Context) (levelResponse, error) {
		level, err := h.store.Subtract(ctx, id, amount)
		return levelResponse{ItemID: id, Stock: level}, err
	})
}

// Subtract lowers an item's stock if enough is left, in one statement: the
// conditional UPDATE takes the row lock and re-checks `stock >= amount` on
// the newest row version, so concurrent subtracts never oversell. The
// second SELECT tells "not enough" from "no such item" in the same round trip.
func (s *Store) Subtract(ctx context.Context, id string, amount int64) (int64, error) {
	var (
		level  *int64
		exists bool
	)
	err := s.db.QueryRow(ctx, `
		WITH taken AS (
			UPDATE items SET stock = stock - $2 WHERE id = $1 AND stock >= $2 RETURNING stock
		)
		SELECT (SELECT stock FROM taken), EXISTS (SELECT 1 FROM items WHERE id = $1)`,
		id, amount).Scan(&level, &exists)
	switch {
	case err != nil:
		return 0, fmt.Errorf("subtract from %q: %w", id, err)
	case level != nil:
		return *level, nil
	case !exists:
		return 0, fmt.Errorf("subtract from %q: %w", id, ErrItemNotFound)
	default:
		return 0, fmt.Errorf("subtract %d from %q: %w", amount, id, ErrInsufficientStock)
	}
}
