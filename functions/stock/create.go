package stock

import (
	"context"
	"fmt"
)

// Create inserts an item; the database draws its UUID.
func (s *Store) Create(ctx context.Context, price int64) (string, error) {
	var id string
	err := s.db.QueryRow(ctx, `INSERT INTO items (price) VALUES ($1) RETURNING id`, price).Scan(&id)
	if err != nil {
		return "", fmt.Errorf("create item: %w", err)
	}
	return id, nil
}
