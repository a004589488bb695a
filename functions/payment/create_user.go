package payment

import (
	"context"
	"fmt"
)

// CreateUser inserts a user; the database draws its UUID.
func (s *Store) CreateUser(ctx context.Context) (string, error) {
	var id string
	if err := s.db.QueryRow(ctx, `INSERT INTO users DEFAULT VALUES RETURNING id`).Scan(&id); err != nil {
		return "", fmt.Errorf("create user: %w", err)
	}
	return id, nil
}
