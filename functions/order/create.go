package order

import (
	"context"
	"fmt"

	"github.com/wdm-knative/webshop/internal/api"
)

// Create serves POST /orders/create/{user_id}: a new open order, empty. 400
// when the payment function does not know the user, 503 when it cannot say.
func (h *Handlers) Create(p *api.Path) api.Run[map[string]string] {
	userID := p.ID("user_id")
	return func(ctx context.Context) (map[string]string, error) {
		exists, err := h.users.UserExists(ctx, userID)
		if err != nil {
			return nil, err
		}
		if !exists {
			return nil, fmt.Errorf("create order for %q: %w", userID, ErrUnknownUser)
		}
		id, err := h.store.Create(ctx, userID)
		return map[string]string{"order_id": id}, err
	}
}

// Create inserts an open order; the database draws its UUID.
func (s *Store) Create(ctx context.Context, userID string) (string, error) {
	var id string
	err := s.db.QueryRow(ctx, `INSERT INTO orders (user_id) VALUES ($1) RETURNING id`, userID).Scan(&id)
	if err != nil {
		return "", fmt.Errorf("create order: %w", err)
	}
	return id, nil
}
