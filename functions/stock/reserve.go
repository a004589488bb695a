package stock

import (
	"context"
	"math"
	"slices"
	"strings"

	"github.com/wdm-knative/webshop/schemas"
)

// Reserve serves shop.checkout.requested (operation stock-reserve): it
// takes every item of the order, or none, unless the ledger already has a
// row for the saga, and returns the saga's ledger row (stock_reserve,
// db-migrations/stock/functions/stock_reserve.sql).
func (s *Store) Reserve(ctx context.Context, req schemas.CheckoutRequested) (LedgerEntry, error) {
	items, overflow := mergeItems(req.Items)
	return s.ledger().Apply(ctx, "stock_reserve($1, $2, $3, $4)", req.SagaID, req.OrderID, items, overflow)
}

// mergeItems sums the quantities of repeated items and sorts by item id. An
// item whose sum passes int64 is named as overflow: no stock can cover it.
func mergeItems(in []schemas.Item) (items []schemas.Item, overflow string) {
	sum := map[string]int64{}
	for _, it := range in {
		if sum[it.ItemID] > math.MaxInt64-it.Quantity {
			overflow = it.ItemID
			sum[it.ItemID] = math.MaxInt64 // keeps the ledger row valid
			continue
		}
		sum[it.ItemID] += it.Quantity
	}
	items = make([]schemas.Item, 0, len(sum))
	for id, q := range sum {
		items = append(items, schemas.Item{ItemID: id, Quantity: q})
	}
	slices.SortFunc(items, func(a, b schemas.Item) int { return strings.Compare(a.ItemID, b.ItemID) })
	return items, overflow
}
