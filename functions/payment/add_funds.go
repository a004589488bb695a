package payment

import (
	"context"

	"github.com/wdm-knative/webshop/internal/pgtx"
)

// AddFunds raises a user's credit in one atomic statement and returns the new
// credit. An overflow past int64 is refused by Postgres (bigint out of range).
func (s *Store) AddFunds(ctx context.Context, id string, amount int64) (int64, error) {
	var credit int64
	err := s.db.QueryRow(ctx,
		`UPDATE users SET credit = credit + $2 WHERE id = $1 RETURNING credit`, id, amount).Scan(&credit)
	return credit, pgtx.RowError(err, ErrUserNotFound, "add funds to %q", id)
}
