package order

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// AddItem adds qty units of an item at unitPrice to an open order and
// returns the new total. Adding an item already in the order raises its
// quantity. quantity*price past int64 is refused by Postgres (bigint out of
// range), so the total cannot wrap around.
func (s *Store) AddItem(ctx context.Context, orderID, itemID string, qty, unitPrice int64) (int64, error) {
	// One statement, one round trip (it runs as its own transaction): lock
	// the order, and only while it is open upsert the line and raise the
	// total. Under READ COMMITTED the row lock re-reads the newest version of
	// the order, so a checkout that committed meanwhile is seen as such.
	var (
		status string
		total  *int64
	)
	err := s.db.QueryRow(ctx, `
		WITH o AS (
			SELECT id, status FROM orders WHERE id = $1 FOR UPDATE
		), line AS (
			INSERT INTO order_items (order_id, item_id, quantity, unit_price)
			SELECT o.id, $2, $3, $4 FROM o WHERE o.status = 'open'
			ON CONFLICT (order_id, item_id) DO UPDATE
			SET quantity = order_items.quantity + EXCLUDED.quantity, unit_price = EXCLUDED.unit_price
		), raised AS (
			UPDATE orders SET total_cost = orders.total_cost + $3::bigint * $4::bigint
			FROM o WHERE orders.id = o.id AND o.status = 'open'
			RETURNING orders.total_cost
		)
		SELECT o.status, (SELECT total_cost FROM raised) FROM o`,
		orderID, itemID, qty, unitPrice).Scan(&status, &total)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return 0, fmt.Errorf("add item to %q: %w", orderID, ErrOrderNotFound)
	case err != nil:
		return 0, fmt.Errorf("add item to %q: %w", orderID, err)
	case status != StatusOpen || total == nil:
		return 0, fmt.Errorf("add item to %q: %w", orderID, ErrOrderNotOpen)
	}
	return *total, nil
}
