package stock

import (
	"context"

	"github.com/wdm-knative/webshop/schemas"
)

// Release serves shop.checkout.compensate (operation stock-release): it
// gives back what was reserved for the saga, exactly once, or writes a
// tombstone when nothing is reserved yet, so that nothing is reserved for
// the saga later; it returns the saga's ledger row afterwards (stock_release,
// db-migrations/stock/functions/stock_release.sql), always answered with
// shop.stock.released.
func (s *Store) Release(ctx context.Context, req schemas.CheckoutCompensate) (LedgerEntry, error) {
	return s.ledger().Apply(ctx, "stock_release($1, $2)", req.SagaID, req.OrderID)
}
