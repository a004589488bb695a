package payment

import (
	"context"
	"errors"
	"fmt"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/jackc/pgx/v5"

	"github.com/wdm-knative/webshop/internal/eventhttp"
	"github.com/wdm-knative/webshop/schemas"
)

// Debit handles shop.checkout.requested (operation payment-debit): take the
// order's total cost from the user's credit, or nothing. A business
// rejection is a reply, not an error; only database trouble is an error (so
// the broker retries).
func (h *Events) Debit(ctx context.Context, in event.Event) (*event.Event, error) {
	req, err := schemas.DecodeAs[schemas.CheckoutRequested](in)
	if err != nil {
		return nil, eventhttp.Permanent(err)
	}
	e, err := h.store.Debit(ctx, req)
	if err != nil {
		return nil, err
	}
	h.log.Debug("payment debit", "saga", e.SagaID, "state", e.State, "reason", e.Reason)
	return debitReply(in, e)
}

// Debit takes the saga's total cost from the user's credit unless the
// ledger already has a row for the saga, and returns the saga's ledger row.
func (s *Store) Debit(ctx context.Context, req schemas.CheckoutRequested) (LedgerEntry, error) {
	// A lost race is settled on the next round, which finds the winner's
	// row; the bound only guards against a bug turning this into a spin.
	for attempt := 1; ; attempt++ {
		e, err := s.debitOnce(ctx, req)
		if errors.Is(err, errLedgerRace) && attempt < maxLedgerRaces {
			continue
		}
		return e, err
	}
}

func (s *Store) debitOnce(ctx context.Context, req schemas.CheckoutRequested) (LedgerEntry, error) {
	tx, err := s.db.Begin(ctx)
	if err != nil {
		return LedgerEntry{}, fmt.Errorf("debit: %w", err)
	}
	defer func() { _ = tx.Rollback(ctx) }()

	// Redelivery (the common duplicate) is answered from the ledger without
	// touching the user's row.
	if e, ok, err := loadLedger(ctx, tx, req.SagaID, false); err != nil || ok {
		return e, err
	}
	e := LedgerEntry{SagaID: req.SagaID, OrderID: req.OrderID, UserID: req.UserID, State: LedgerDebited, Amount: req.TotalCost}
	var credit int64
	err = tx.QueryRow(ctx, `SELECT credit FROM users WHERE id = $1 FOR UPDATE`, req.UserID).Scan(&credit)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		e = rejected(e, schemas.ReasonUnknownUser)
	case err != nil:
		return LedgerEntry{}, fmt.Errorf("debit: lock user %q: %w", req.UserID, err)
	case credit < req.TotalCost:
		e = rejected(e, schemas.ReasonInsufficientCredit)
	default:
		if err := changeCredit(ctx, tx, req.UserID, -req.TotalCost); err != nil {
			return LedgerEntry{}, err
		}
	}
	if err := insertLedger(ctx, tx, e); err != nil {
		return LedgerEntry{}, err
	}
	if err := tx.Commit(ctx); err != nil {
		return LedgerEntry{}, fmt.Errorf("debit: commit: %w", err)
	}
	return e, nil
}

func rejected(e LedgerEntry, reason schemas.Reason) LedgerEntry {
	e.State, e.Amount, e.Reason = LedgerRejected, 0, reason
	return e
}
