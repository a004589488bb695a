package stock

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/jackc/pgx/v5"

	"github.com/wdm-knative/webshop/internal/api"
)

// Add serves POST /stock/add/{item_id}/{amount} (amount > 0).
func (h *Handlers) Add(w http.ResponseWriter, r *http.Request) {
	p := api.PathOf(r)
	id := p.ID("item_id")
	amount := p.Positive("amount")
	if err := p.Err(); err != nil {
		h.fail(w, r, err)
		return
	}
	level, err := h.store.Add(r.Context(), id, amount)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	api.OK(w, levelResponse{ItemID: id, Stock: level})
}

// Add raises an item's stock in one atomic statement and returns the new
// level. An overflow past int64 is refused by Postgres (bigint out of range).
func (s *Store) Add(ctx context.Context, id string, amount int64) (int64, error) {
	var level int64
	err := s.db.QueryRow(ctx,
		`UPDATE items SET stock = stock + $2 WHERE id = $1 RETURNING stock`, id, amount).Scan(&level)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, fmt.Errorf("add to %q: %w", id, ErrItemNotFound)
	}
	if err != nil {
		return 0, fmt.Errorf("add to %q: %w", id, err)
	}
	return level, nil
}
