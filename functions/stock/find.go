package stock

import (
	"context"
	"net/http"

	"github.com/wdm-knative/webshop/internal/api"
	"github.com/wdm-knative/webshop/internal/pgtx"
)

// Find serves GET /stock/find/{item_id}.
func (h *Handlers) Find(w http.ResponseWriter, r *http.Request) {
	p := api.PathOf(r)
	id := p.ID("item_id")
	api.Answer(w, r, h.log, p, func(ctx context.Context) (Item, error) { return h.store.Find(ctx, id) })
}

// Find reads an item.
func (s *Store) Find(ctx context.Context, id string) (Item, error) {
	var it Item
	err := s.db.QueryRow(ctx, `SELECT stock, price FROM items WHERE id = $1`, id).Scan(&it.Stock, &it.Price)
	return it, pgtx.RowError(err, ErrItemNotFound, "find %q", id)
}
