package payment

import (
	"context"

	"github.com/wdm-knative/webshop/schemas"
)

// Debit serves shop.checkout.requested (operation payment-debit): it takes
// the order's total cost from the user's credit, or nothing, unless the
// ledger already has a row for the saga, and returns the saga's ledger row
// (payment_debit, db-migrations/payment/functions/payment_debit.sql).
func (s *Store) Debit(ctx context.Context, req schemas.CheckoutRequested) (LedgerEntry, error) {
	return s.ledger().Apply(ctx, "payment_debit($1, $2, $3, $4)", req.SagaID, req.OrderID, req.UserID, req.TotalCost)
}
