package payment

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/wdm-knative/webshop/internal/eventhttp"
	"github.com/wdm-knative/webshop/internal/pgtx"
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
	if h.log.Enabled(ctx, slog.LevelDebug) {
		h.log.Debug("payment refund", "saga", e.SagaID, "state", e.State)
	}
	return refundReply(in, e)
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
