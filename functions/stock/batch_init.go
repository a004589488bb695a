package stock

import (
	"context"
	"fmt"
)

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
