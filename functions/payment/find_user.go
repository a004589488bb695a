package payment

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/jackc/pgx/v5"

	"github.com/wdm-knative/webshop/internal/api"
)

// FindUser serves GET /payment/find_user/{user_id}.
func (h *Handlers) FindUser(w http.ResponseWriter, r *http.Request) {
	p := api.PathOf(r)
	id := p.ID("user_id")
	if err := p.Err(); err != nil {
		h.fail(w, r, err)
		return
	}
	u, err := h.store.FindUser(r.Context(), id)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	api.OK(w, u)
}

// FindUser reads a user.
func (s *Store) FindUser(ctx context.Context, id string) (User, error) {
	u := User{UserID: id}
	err := s.db.QueryRow(ctx, `SELECT credit FROM users WHERE id = $1`, id).Scan(&u.Credit)
	if errors.Is(err, pgx.ErrNoRows) {
		return User{}, fmt.Errorf("find user %q: %w", id, ErrUserNotFound)
	}
	if err != nil {
		return User{}, fmt.Errorf("find user %q: %w", id, err)
	}
	return u, nil
}
