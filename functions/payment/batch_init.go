package payment

import (
	"context"
	"fmt"
)

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
