package stock

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/wdm-knative/webshop/internal/eventhttp"
	"github.com/wdm-knative/webshop/schemas"
)

// Reserve handles shop.checkout.requested (operation stock-reserve): take
// every item of the order, or none. A business rejection is a reply, not an
// error; only database trouble is an error (so the broker retries).
func (h *Events) Reserve(ctx context.Context, in event.Event) (*event.Event, error) {
	req, err := schemas.DecodeAs[schemas.CheckoutRequested](in)
	if err != nil {
		return nil, eventhttp.Permanent(err)
	}
	e, err := h.store.Reserve(ctx, req)
	if err != nil {
		return nil, err
	}
	h.log.Debug("stock reserve", "saga", e.SagaID, "state", e.State, "reason", e.Reason)
	return reserveReply(in, e)
}

// Reserve takes the saga's items in one transaction unless the ledger
// already has a row for the saga, and returns the saga's ledger row.
func (s *Store) Reserve(ctx context.Context, req schemas.CheckoutRequested) (LedgerEntry, error) {
	// A lost race is settled on the next round, which finds the winner's
	// row; the bound only guards against a bug turning this into a spin.
	for attempt := 1; ; attempt++ {
		e, err := s.reserveOnce(ctx, req)
		if errors.Is(err, errLedgerRace) && attempt < maxLedgerRaces {
			continue
		}
		return e, err
	}
}

func (s *Store) reserveOnce(ctx context.Context, req schemas.CheckoutRequested) (LedgerEntry, error) {
	tx, err := s.db.Begin(ctx)
	if err != nil {
		return LedgerEntry{}, fmt.Errorf("reserve: %w", err)
	}
	defer func() { _ = tx.Rollback(ctx) }()

	// Redelivery (the common duplicate) is answered from the ledger without
	// touching the item rows.
	if e, ok, err := loadLedger(ctx, tx, req.SagaID, false); err != nil || ok {
		return e, err
	}
	items, overflow := mergeItems(req.Items)
	e := LedgerEntry{SagaID: req.SagaID, OrderID: req.OrderID, State: LedgerReserved, Items: items}
	levels, err := lockItems(ctx, tx, itemIDs(items))
	if err != nil {
		return LedgerEntry{}, err
	}
	if reason, itemID := shortfall(items, levels, overflow); reason != "" {
		e = LedgerEntry{SagaID: req.SagaID, OrderID: req.OrderID, State: LedgerRejected, Reason: reason, ItemID: itemID}
	}
	if e.State == LedgerReserved {
		if err := changeStock(ctx, tx, items, -1); err != nil {
			return LedgerEntry{}, err
		}
	}
	if err := insertLedger(ctx, tx, e); err != nil {
		return LedgerEntry{}, err
	}
	if err := tx.Commit(ctx); err != nil {
		return LedgerEntry{}, fmt.Errorf("reserve: commit: %w", err)
	}
	return e, nil
}

// shortfall names the first item (in id order) that cannot be taken, and
// why; an empty reason means all can.
func shortfall(items []schemas.Item, levels map[string]int64, overflow string) (schemas.Reason, string) {
	for _, it := range items {
		level, known := levels[it.ItemID]
		switch {
		case !known:
			return schemas.ReasonUnknownItem, it.ItemID
		case it.ItemID == overflow || level < it.Quantity:
			return schemas.ReasonInsufficientStock, it.ItemID
		}
	}
	return "", ""
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

func itemIDs(items []schemas.Item) []string {
	ids := make([]string, len(items))
	for i, it := range items {
		ids[i] = it.ItemID
	}
	return ids
}
