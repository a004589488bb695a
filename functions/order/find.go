package order

import (
	"context"

	"github.com/wdm-knative/webshop/internal/pgtx"
)

// Find serves GET /orders/find/{order_id}: it reads an order with its items
// (ordered by item ID) in one query.
func (s *Store) Find(ctx context.Context, id string) (Order, error) {
	o := Order{OrderID: id, Items: []Line{}}
	var (
		items []string
		qtys  []int64
	)
	err := s.db.QueryRow(ctx, `
		SELECT o.user_id, o.status, o.total_cost,
		       array_agg(i.item_id ORDER BY i.item_id) FILTER (WHERE i.item_id IS NOT NULL),
		       array_agg(i.quantity ORDER BY i.item_id) FILTER (WHERE i.item_id IS NOT NULL)
		FROM orders o LEFT JOIN order_items i ON i.order_id = o.id
		WHERE o.id = $1
		GROUP BY o.id`, id).Scan(&o.UserID, &o.Status, &o.TotalCost, &items, &qtys)
	if err != nil {
		return Order{}, pgtx.RowError(err, ErrOrderNotFound, "find order %q", id)
	}
	for i := range items {
		o.Items = append(o.Items, Line{ItemID: items[i], Quantity: qtys[i]})
	}
	o.Paid = o.Status == StatusPaid
	return o, nil
}
