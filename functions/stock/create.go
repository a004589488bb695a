package stock

import (
	"context"
	"fmt"

	"github.com/wdm-knative/webshop/internal/api"
)

// Create serves POST /stock/item/create/{price}: a new item with stock 0.
func (h *Handlers) Create(p *api.Path) api.Run[map[string]string] {
	price := p.Amount("price")
	return func(ctx context.Context) (map[string]string, error) {
		id, err := h.store.Create(ctx, price)
		return map[string]string{"item_id": id}, err
	}
}

// Create inserts an item; the database draws its UUID.
func (s *Store) Create(ctx context.Context, price int64) (string, error) {
	var id string
	err := s.db.QueryRow(ctx, `INSERT INTO items (price) VALUES ($1) RETURNING id`, price).Scan(&id)
	if err != nil {
		return "", fmt.Errorf("create item: %w", err)
	}
	return id, nil
}
