package stock

import (
	"context"

	"github.com/wdm-knative/webshop/internal/pgtx"
)

// Find serves GET /stock/find/{item_id}: it reads an item.
func (s *Store) Find(ctx context.Context, id string) (Item, error) {
	var it Item
	err := s.db.QueryRow(ctx, `SELECT stock, price FROM items WHERE id = $1`, id).Scan(&it.Stock, &it.Price)
	return it, pgtx.RowError(err, ErrItemNotFound, "find %q", id)
}
