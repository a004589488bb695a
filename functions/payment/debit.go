package payment

import (
	"context"
	"fmt"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/wdm-knative/webshop/functions/participant"
	"github.com/wdm-knative/webshop/internal/pgtx"
	"github.com/wdm-knative/webshop/schemas"
)

// Debit handles shop.checkout.requested (operation payment-debit): take the
// order's total cost from the user's credit, or nothing. A business
// rejection is a reply, not an error; only database trouble is an error (so
// the broker retries).
func (h *Events) Debit(ctx context.Context, in event.Event) (*event.Event, error) {
	return participant.Step(ctx, h.log, "payment debit", in, h.store.Debit, debitReply)
}

// Debit takes the saga's total cost from the user's credit unless the ledger
// already has a row for the saga, and returns the saga's ledger row. It is
// one statement (payment_debit, db-migrations/payment/functions/payment_debit.sql),
// which settles duplicates, late steps and races with the refund by claiming
// the ledger row first.
func (s *Store) Debit(ctx context.Context, req schemas.CheckoutRequested) (LedgerEntry, error) {
	e, err := pgtx.Retry(ctx, func(ctx context.Context) (LedgerEntry, error) {
		return scanLedger(s.db.QueryRow(ctx, `SELECT `+ledgerColumns+` FROM payment_debit($1, $2, $3, $4)`,
			req.SagaID, req.OrderID, req.UserID, req.TotalCost))
	})
	if err != nil {
		return LedgerEntry{}, fmt.Errorf("debit for saga %q: %w", req.SagaID, err)
	}
	return e, nil
}
