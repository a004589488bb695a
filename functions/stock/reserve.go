package stock

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/wdm-knative/webshop/functions/participant"
	"github.com/wdm-knative/webshop/internal/pgtx"
	"github.com/wdm-knative/webshop/schemas"
)

// Reserve handles shop.checkout.requested (operation stock-reserve): take
// every item of the order, or none. A business rejection is a reply, not an
// error; only database trouble is an error (so the broker retries).
func (h *Events) Reserve(ctx context.Context, in event.Event) (*event.Event, error) {
	return participant.Step(ctx, h.log, "stock reserve", in, h.store.Reserve, reserveReply)
}

// Reserve takes the saga's items unless the ledger already has a row for the
// saga, and returns the saga's ledger row. It is one statement
// (stock_reserve, db-migrations/stock/functions/stock_reserve.sql), which
// settles duplicates, late steps and races with the compensation by claiming
// the ledger row first.
func (s *Store) Reserve(ctx context.Context, req schemas.CheckoutRequested) (LedgerEntry, error) {
	items, overflow := mergeItems(req.Items)
	e, err := pgtx.Retry(ctx, func(ctx context.Context) (LedgerEntry, error) {
		return scanLedger(s.db.QueryRow(ctx, `SELECT `+ledgerColumns+` FROM stock_reserve($1, $2, $3, $4)`,
			req.SagaID, req.OrderID, items, overflow))
	})
	if err != nil {
		return LedgerEntry{}, fmt.Errorf("reserve for saga %q: %w", req.SagaID, err)
	}
	return e, nil
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
