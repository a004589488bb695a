package payment

import (
	"context"
	"fmt"

	"github.com/wdm-knative/webshop/internal/api"
)

// BatchInit serves POST /payment/batch_init/{n}/{starting_money}: users
// "0".."n-1", each with that credit, overwriting any that exist.
func (h *Handlers) BatchInit(p *api.Path) api.Run[map[string]string] {
	n := p.Batch("n")
	money := p.Amount("starting_money")
	return func(ctx context.Context) (map[string]string, error) {
		return map[string]string{"msg": "Batch init for users successful"}, h.store.BatchInit(ctx, n, money)
	}
}

// BatchInit writes n users in one statement, generated inside Postgres.
func (s *Store) BatchInit(ctx context.Context, n, credit int64) error {
	_, err := s.db.Exec(ctx, `
		INSERT INTO users (id, credit)
		SELECT g::text, $2 FROM generate_series(0, $1::bigint - 1) AS g
		ON CONFLICT (id) DO UPDATE SET credit = EXCLUDED.credit`,
		n, credit)
	if err != nil {
		return fmt.Errorf("batch init %d users: %w", n, err)
	}
	return nil
}
