package stock

import (
	"context"
	"errors"
	"fmt"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/wdm-knative/webshop/internal/eventhttp"
	"github.com/wdm-knative/webshop/schemas"
)

// Release handles shop.checkout.compensate (operation stock-release): give
// back what was reserved for the saga, exactly once, and make sure nothing
// is reserved for it later. It always answers shop.stock.released.
func (h *Events) Release(ctx context.Context, in event.Event) (*event.Event, error) {
	req, err := schemas.DecodeAs[schemas.CheckoutCompensate](in)
	if err != nil {
		return nil, eventhttp.Permanent(err)
	}
	e, err := h.store.Release(ctx, req.SagaID, req.OrderID)
	if err != nil {
		return nil, err
	}
	h.log.Debug("stock release", "saga", e.SagaID, "state", e.State)
	return releaseReply(in, e)
}

// Release gives back a saga's reservation, or writes a tombstone when there
// is none yet, and returns the saga's ledger row afterwards.
func (s *Store) Release(ctx context.Context, sagaID, orderID string) (LedgerEntry, error) {
	// A lost race is settled on the next round, which finds the winner's
	// row; the bound only guards against a bug turning this into a spin.
	for attempt := 1; ; attempt++ {
		e, err := s.releaseOnce(ctx, sagaID, orderID)
		if errors.Is(err, errLedgerRace) && attempt < maxLedgerRaces {
			continue
		}
		return e, err
	}
}

func (s *Store) releaseOnce(ctx context.Context, sagaID, orderID string) (LedgerEntry, error) {
	tx, err := s.db.Begin(ctx)
	if err != nil {
		return LedgerEntry{}, fmt.Errorf("release: %w", err)
	}
	defer func() { _ = tx.Rollback(ctx) }()

	e, ok, err := loadLedger(ctx, tx, sagaID, true)
	switch {
	case err != nil:
		return LedgerEntry{}, err
	case !ok:
		e = LedgerEntry{SagaID: sagaID, OrderID: orderID, State: LedgerTombstone}
		if err := insertLedger(ctx, tx, e); err != nil {
			return LedgerEntry{}, err
		}
	case e.State == LedgerReserved:
		// Ledger row, then items (reserve takes items, then writes the
		// row). No deadlock: once the row exists a reserve of this saga
		// only reads it (no lock), and other sagas' reserves never touch it.
		if _, err := lockItems(ctx, tx, itemIDs(e.Items)); err != nil {
			return LedgerEntry{}, err
		}
		if err := changeStock(ctx, tx, e.Items, +1); err != nil {
			return LedgerEntry{}, err
		}
		if _, err := tx.Exec(ctx, `UPDATE stock_ledger SET state = $2, updated_at = now() WHERE saga_id = $1`,
			sagaID, LedgerReleased); err != nil {
			return LedgerEntry{}, fmt.Errorf("release saga %q: %w", sagaID, err)
		}
		e.State = LedgerReleased
	default:
		// rejected, released or tombstone: nothing (more) to give back.
		return e, nil
	}
	if err := tx.Commit(ctx); err != nil {
		return LedgerEntry{}, fmt.Errorf("release: commit: %w", err)
	}
	return e, nil
}
