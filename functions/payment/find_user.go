package payment

import (
	"context"
	"net/http"

	"github.com/wdm-knative/webshop/internal/api"
	"github.com/wdm-knative/webshop/internal/pgtx"
)

// FindUser serves GET /payment/find_user/{user_id}.
func (h *Handlers) FindUser(w http.ResponseWriter, r *http.Request) {
	p := api.PathOf(r)
	id := p.ID("user_id")
	api.Answer(w, r, h.log, p, func(ctx context.Context) (User, error) { return h.store.FindUser(ctx, id) })
}

// FindUser reads a user.
func (s *Store) FindUser(ctx context.Context, id string) (User, error) {
	u := User{UserID: id}
	err := s.db.QueryRow(ctx, `SELECT credit FROM users WHERE id = $1`, id).Scan(&u.Credit)
	return u, pgtx.RowError(err, ErrUserNotFound, "find user %q", id)
}
