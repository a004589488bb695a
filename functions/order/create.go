package order

import (
	"context"
	"fmt"
	"net/http"

	"github.com/wdm-knative/webshop/internal/api"
)

// Create serves POST /orders/create/{user_id}: a new open order, empty. 400
// when the payment function does not know the user, 503 when it cannot say.
func (h *Handlers) Create(w http.ResponseWriter, r *http.Request) {
	p := api.PathOf(r)
	userID := p.ID("user_id")
	if err := p.Err(); err != nil {
		h.fail(w, r, err)
		return
	}
	exists, err := h.users.UserExists(r.Context(), userID)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if !exists {
		h.fail(w, r, fmt.Errorf("create order for %q: %w", userID, ErrUnknownUser))
		return
	}
	id, err := h.store.Create(r.Context(), userID)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	api.OK(w, map[string]string{"order_id": id})
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
