package payment

import (
	"context"
	"fmt"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/wdm-knative/webshop/functions/participant"
	"github.com/wdm-knative/webshop/internal/pgtx"
	"github.com/wdm-knative/webshop/schemas"
)

// Refund handles shop.checkout.compensate (operation payment-refund): give
// back what was debited for the saga, exactly once, and make sure nothing is
// debited for it later. It always answers shop.payment.refunded.
func (h *Events) Refund(ctx context.Context, in event.Event) (*event.Event, error) {
	return participant.Step(ctx, h.log, "payment refund", in, h.store.Refund, refundReply)
}

// Refund gives back a saga's debit, or writes a tombstone when there is none
// yet, and returns the saga's ledger row afterwards; one statement
// (payment_refund, db-migrations/payment/functions/payment_refund.sql).
func (s *Store) Refund(ctx context.Context, req schemas.CheckoutCompensate) (LedgerEntry, error) {
	e, err := pgtx.Retry(ctx, func(ctx context.Context) (LedgerEntry, error) {
		return scanLedger(s.db.QueryRow(ctx, `SELECT `+ledgerColumns+` FROM payment_refund($1, $2, $3)`,
			req.SagaID, req.OrderID, req.UserID))
	})
	if err != nil {
		return LedgerEntry{}, fmt.Errorf("refund for saga %q: %w", req.SagaID, err)
	}
	return e, nil
}
