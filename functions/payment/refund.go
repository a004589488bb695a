package payment

import (
	"context"

	"github.com/wdm-knative/webshop/schemas"
)

// Refund serves shop.checkout.compensate (operation payment-refund): it
// gives back what was debited for the saga, exactly once, or writes a
// tombstone when nothing is debited yet, so that nothing is debited for the
// saga later; it returns the saga's ledger row afterwards (payment_refund,
// db-migrations/payment/functions/payment_refund.sql), always answered with
// shop.payment.refunded.
func (s *Store) Refund(ctx context.Context, req schemas.CheckoutCompensate) (LedgerEntry, error) {
	return s.ledger().Apply(ctx, "payment_refund($1, $2, $3)", req.SagaID, req.OrderID, req.UserID)
}
