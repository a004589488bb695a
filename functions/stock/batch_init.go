package stock

import (
	"context"
	"fmt"

	"github.com/wdm-knative/webshop/internal/api"
)

// BatchInit serves POST /stock/batch_init/{n}/{starting_stock}/{item_price}:
// items "0".."n-1", each with that stock and price, overwriting any that exist.
func (h *Handlers) BatchInit(p *api.Path) api.Run[map[string]string] {
	n := p.Batch("n")
	stock := p.Amount("starting_stock")
	price := p.Amount("item_price")
	return func(ctx context.Context) (map[string]string, error) {
		return map[string]string{"msg": "Batch init for stock successful"}, h.store.BatchInit(ctx, n, stock, price)
	}
}

// BatchInit writes n items in one statement: the rows are generated inside
// Postgres, so 100,000 items cost one round trip, not 100,000.
func (s *Store) BatchInit(ctx context.Context, n, stock, price int64) error {
	_, err := s.db.Exec(ctx, `
		INSERT INTO items (id, stock, price)
		SELECT g::text, $2, $3 FROM generate_series(0, $1::bigint - 1) AS g
		ON CONFLICT (id) DO UPDATE SET stock = EXCLUDED.stock, price = EXCLUDED.price`,
		n, stock, price)
	if err != nil {
		return fmt.Errorf("batch init %d items: %w", n, err)
	}
	return nil
}
