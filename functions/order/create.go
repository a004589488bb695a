package order

import (
	"context"
	"fmt"
)

// Create inserts an open order; the database draws its UUID.
func (s *Store) Create(ctx context.Context, userID string) (string, error) {
	var id string
	err := s.db.QueryRow(ctx, `INSERT INTO orders (user_id) VALUES ($1) RETURNING id`, userID).Scan(&id)
	if err != nil {
		return "", fmt.Errorf("create order: %w", err)
	}
	return id, nil
}
