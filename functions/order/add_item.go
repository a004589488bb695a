package order

import (
	"context"
	"fmt"
	"net/http"

	"github.com/wdm-knative/webshop/internal/api"
)

// AddItem serves both forms of adding an item:
//   - POST /orders/addItem/{order_id}/{item_id}/{quantity} (2024, quantity >= 1);
//   - POST /orders/addItem/{order_id}/{item_id} (2023, one unit).
//
// The price is read from the stock function; 400 when stock does not know
// the item or the order is no longer open.
func (h *Handlers) AddItem(w http.ResponseWriter, r *http.Request) {
	p := api.PathOf(r)
	orderID := p.ID("order_id")
	itemID := p.ID("item_id")
	qty := int64(1)
	if p.Has("quantity") {
		qty = p.Positive("quantity")
	}
	if err := p.Err(); err != nil {
		h.fail(w, r, err)
		return
	}
	// Read the price before the transaction: no row lock is held while we
	// wait on another function.
	price, err := h.prices.Price(r.Context(), itemID)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	total, err := h.store.AddItem(r.Context(), orderID, itemID, qty, price)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	api.OK(w, costResponse{OrderID: orderID, TotalCost: total})
}

// AddItem adds qty units of an item at unitPrice to an open order and
// returns the new total. Adding an item already in the order raises its
// quantity. quantity*price past int64 is refused by Postgres (bigint out of
// range), so the total cannot wrap around.
func (s *Store) AddItem(ctx context.Context, orderID, itemID string, qty, unitPrice int64) (int64, error) {
	tx, err := s.db.Begin(ctx)
	if err != nil {
		return 0, fmt.Errorf("add item to %q: %w", orderID, err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck // a no-op after Commit

	if err := lockOpen(ctx, tx, orderID); err != nil {
		return 0, fmt.Errorf("add item to %q: %w", orderID, err)
	}
	// Prices do not change through the API, so one unit_price per line is
	// exact; the newest price wins should batch_init have rewritten it.
	_, err = tx.Exec(ctx, `
		INSERT INTO order_items (order_id, item_id, quantity, unit_price) VALUES ($1, $2, $3, $4)
		ON CONFLICT (order_id, item_id) DO UPDATE
		SET quantity = order_items.quantity + EXCLUDED.quantity, unit_price = EXCLUDED.unit_price`,
		orderID, itemID, qty, unitPrice)
	if err != nil {
		return 0, fmt.Errorf("add item to %q: %w", orderID, err)
	}
	var total int64
	err = tx.QueryRow(ctx, `
		UPDATE orders SET total_cost = total_cost + $2::bigint * $3::bigint WHERE id = $1 RETURNING total_cost`,
		orderID, qty, unitPrice).Scan(&total)
	if err != nil {
		return 0, fmt.Errorf("add item to %q: %w", orderID, err)
	}
	if err := tx.Commit(ctx); err != nil {
		return 0, fmt.Errorf("add item to %q: %w", orderID, err)
	}
	return total, nil
}
