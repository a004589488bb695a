package payment

import (
	"context"
	"fmt"

	"github.com/wdm-knative/webshop/internal/api"
)

// CreateUser serves POST /payment/create_user: a new user with credit 0.
func (h *Handlers) CreateUser(*api.Path) api.Run[map[string]string] {
	return func(ctx context.Context) (map[string]string, error) {
		id, err := h.store.CreateUser(ctx)
		return map[string]string{"user_id": id}, err
	}
}

// CreateUser inserts a user; the database draws its UUID.
func (s *Store) CreateUser(ctx context.Context) (string, error) {
	var id string
	if err := s.db.QueryRow(ctx, `INSERT INTO users DEFAULT VALUES RETURNING id`).Scan(&id); err != nil {
		return "", fmt.Errorf("create user: %w", err)
	}
	return id, nil
}
