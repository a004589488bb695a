package payment

import (
	"context"

	"github.com/wdm-knative/webshop/internal/pgtx"
)

// FindUser serves GET /payment/find_user/{user_id}: it reads a user.
func (s *Store) FindUser(ctx context.Context, id string) (User, error) {
	u := User{UserID: id}
	err := s.db.QueryRow(ctx, `SELECT credit FROM users WHERE id = $1`, id).Scan(&u.Credit)
	return u, pgtx.RowError(err, ErrUserNotFound, "find user %q", id)
}
