package payment

import (
	"context"
	"errors"
	"fmt"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/wdm-knative/webshop/internal/eventhttp"
	"github.com/wdm-knative/webshop/schemas"
)

// Refund handles shop.checkout.compensate (operation payment-refund): give
// back what was debited for the saga, exactly once, and make sure nothing is
// debited for it later. It always answers shop.payment.refunded.
func (h *Events) Refund(ctx context.Context, in event.Event) (*event.Event, error) {
	req, err := schemas.DecodeAs[schemas.CheckoutCompensate](in)
	if err != nil {
		return nil, eventhttp.Permanent(err)
	}
	e, err := h.store.Refund(ctx, req)
	if err != nil {
		return nil, err
	}
	h.log.Debug("payment refund", "saga", e.SagaID, "state", e.State)
	return refundReply(in, e)
}

// Refund gives back a saga's debit, or writes a tombstone when there is none
// yet, and returns the saga's ledger row afterwards.
func (s *Store) Refund(ctx context.Context, req schemas.CheckoutCompensate) (LedgerEntry, error) {
	for attempt := 1; ; attempt++ {
		e, err := s.refundOnce(ctx, req)
		if errors.Is(err, errLedgerRace) && attempt < maxLedgerRaces {
			// The debit committed between our read and our tombstone:
			// the next round refunds it.
			continue
		}
		return e, err
	}
}

func (s *Store) refundOnce(ctx context.Context, req schemas.CheckoutCompensate) (LedgerEntry, error) {
	tx, err := s.db.Begin(ctx)
	if err != nil {
		return LedgerEntry{}, fmt.Errorf("refund: %w", err)
	}
	defer func() { _ = tx.Rollback(ctx) }()

	e, ok, err := loadLedger(ctx, tx, req.SagaID, true)
	switch {
	case err != nil:
		return LedgerEntry{}, err
	case !ok:
		e = LedgerEntry{SagaID: req.SagaID, OrderID: req.OrderID, UserID: req.UserID, State: LedgerTombstone}
		if err := insertLedger(ctx, tx, e); err != nil {
			return LedgerEntry{}, err
		}
	case e.State == LedgerDebited:
		// The user's row is locked after the ledger row; a debit of this
		// saga never waits for the ledger row (it reads it and answers),
		// so the two cannot deadlock.
		if err := changeCredit(ctx, tx, e.UserID, e.Amount); err != nil {
			return LedgerEntry{}, err
		}
		if _, err := tx.Exec(ctx, `UPDATE payment_ledger SET state = $2, updated_at = now() WHERE saga_id = $1`,
			req.SagaID, LedgerRefunded); err != nil {
			return LedgerEntry{}, fmt.Errorf("refund saga %q: %w", req.SagaID, err)
		}
		e.State = LedgerRefunded
	default:
		// rejected, refunded or tombstone: nothing (more) to give back.
		return e, nil
	}
	if err := tx.Commit(ctx); err != nil {
		return LedgerEntry{}, fmt.Errorf("refund: commit: %w", err)
	}
	return e, nil
}
