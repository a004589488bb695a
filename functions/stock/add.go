package stock

import (
	"context"

	"github.com/wdm-knative/webshop/internal/pgtx"
)

// Add serves POST /stock/add/{item_id}/{amount} (amount > 0): it raises an
// item's stock in one atomic statement and returns the new level. An
// overflow past int64 is refused by Postgres (bigint out of range).
func (s *Store) Add(ctx context.Context, id string, amount int64) (int64, error) {
	var level int64
	err := s.db.QueryRow(ctx,
		`UPDATE items SET stock = stock + $2 WHERE id = $1 RETURNING stock`, id, amount).Scan(&level)
	return level, pgtx.RowError(err, ErrItemNotFound, "add to %q", id)
}
