package stock

import (
	"context"
	"fmt"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/wdm-knative/webshop/functions/participant"
	"github.com/wdm-knative/webshop/internal/pgtx"
	"github.com/wdm-knative/webshop/schemas"
)

// Release handles shop.checkout.compensate (operation stock-release): give
// back what was reserved for the saga, exactly once, and make sure nothing
// is reserved for it later. It always answers shop.stock.released.
func (h *Events) Release(ctx context.Context, in event.Event) (*event.Event, error) {
	return participant.Step(ctx, h.log, "stock release", in, h.store.Release, releaseReply)
}

// Release gives back a saga's reservation, or writes a tombstone when there
// is none yet, and returns the saga's ledger row afterwards; one statement
// (stock_release, db-migrations/stock/functions/stock_release.sql).
func (s *Store) Release(ctx context.Context, req schemas.CheckoutCompensate) (LedgerEntry, error) {
	e, err := pgtx.Retry(ctx, func(ctx context.Context) (LedgerEntry, error) {
		return scanLedger(s.db.QueryRow(ctx, `SELECT `+ledgerColumns+` FROM stock_release($1, $2)`, req.SagaID, req.OrderID))
	})
	if err != nil {
		return LedgerEntry{}, fmt.Errorf("release for saga %q: %w", req.SagaID, err)
	}
	return e, nil
}
