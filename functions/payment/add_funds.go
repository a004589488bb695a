package payment

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/jackc/pgx/v5"

	"github.com/wdm-knative/webshop/internal/api"
)

// AddFunds serves POST /payment/add_funds/{user_id}/{amount} (amount > 0).
func (h *Handlers) AddFunds(w http.ResponseWriter, r *http.Request) {
	p := api.PathOf(r)
	id := p.ID("user_id")
	amount := p.Positive("amount")
	if err := p.Err(); err != nil {
		h.fail(w, r, err)
		return
	}
	if _, err := h.store.AddFunds(r.Context(), id, amount); err != nil {
		h.fail(w, r, err)
		return
	}
	api.OK(w, map[string]bool{"done": true})
}

// AddFunds raises a user's credit in one atomic statement and returns the new
// credit. An overflow past int64 is refused by Postgres (bigint out of range).
func (s *Store) AddFunds(ctx context.Context, id string, amount int64) (int64, error) {
	var credit int64
	err := s.db.QueryRow(ctx,
		`UPDATE users SET credit = credit + $2 WHERE id = $1 RETURNING credit`, id, amount).Scan(&credit)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, fmt.Errorf("add funds to %q: %w", id, ErrUserNotFound)
	}
	if err != nil {
		return 0, fmt.Errorf("add funds to %q: %w", id, err)
	}
	return credit, nil
}
