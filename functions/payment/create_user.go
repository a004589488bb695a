package payment

import (
	"context"
	"fmt"
	"net/http"

	"github.com/wdm-knative/webshop/internal/api"
)

// CreateUser serves POST /payment/create_user: a new user with credit 0.
func (h *Handlers) CreateUser(w http.ResponseWriter, r *http.Request) {
	api.Answer(w, r, h.log, api.PathOf(r), func(ctx context.Context) (map[string]string, error) {
		id, err := h.store.CreateUser(ctx)
		return map[string]string{"user_id": id}, err
	})
}

// CreateUser inserts a user; the database draws its UUID.
func (s *Store) CreateUser(ctx context.Context) (string, error) {
	var id string
	if err := s.db.QueryRow(ctx, `INSERT INTO users DEFAULT VALUES RETURNING id`).Scan(&id); err != nil {
		return "", fmt.Errorf("create user: %w", err)
	}
	return id, nil
}
