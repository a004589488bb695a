package stock

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/jackc/pgx/v5"

	"github.com/wdm-knative/webshop/internal/api"
)

// Find serves GET /stock/find/{item_id}.
func (h *Handlers) Find(w http.ResponseWriter, r *http.Request) {
	p := api.PathOf(r)
	id := p.ID("item_id")
	if err := p.Err(); err != nil {
		h.fail(w, r, err)
		return
	}
	item, err := h.store.Find(r.Context(), id)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	api.OK(w, item)
}

// Find reads an item.
func (s *Store) Find(ctx context.Context, id string) (Item, error) {
	var it Item
	err := s.db.QueryRow(ctx, `SELECT stock, price FROM items WHERE id = $1`, id).Scan(&it.Stock, &it.Price)
	if errors.Is(err, pgx.ErrNoRows) {
		return Item{}, fmt.Errorf("find %q: %w", id, ErrItemNotFound)
	}
	if err != nil {
		return Item{}, fmt.Errorf("find %q: %w", id, err)
	}
	return it, nil
}
