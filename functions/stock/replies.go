package stock

import (
	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/wdm-knative/webshop/internal/operation"
	"github.com/wdm-knative/webshop/schemas"
)

// reserveReply answers a checkout.requested from the ledger row.
func reserveReply(in event.Event, e LedgerEntry) (*event.Event, error) {
	src := schemas.Source(operation.StockReserve)
	switch e.State {
	case LedgerReserved, LedgerReleased:
		return schemas.Reply(in, src, schemas.TypeStockReserved,
			schemas.StockReserved{SagaID: e.SagaID, OrderID: e.OrderID, Items: e.Items})
	case LedgerRejected:
		return schemas.Reply(in, src, schemas.TypeStockRejected,
			schemas.StockRejected{SagaID: e.SagaID, OrderID: e.OrderID, Reason: e.Reason, ItemID: e.ItemID})
	default: // tombstone: the saga was compensated before this arrived
		return schemas.Reply(in, src, schemas.TypeStockRejected,
			schemas.StockRejected{SagaID: e.SagaID, OrderID: e.OrderID, Reason: schemas.ReasonCompensated})
	}
}

// releaseReply answers a checkout.compensate from the ledger row: released,
// with the items given back (none unless something had been reserved).
func releaseReply(in event.Event, e LedgerEntry) (*event.Event, error) {
	items := []schemas.Item{}
	if e.State == LedgerReleased {
		items = e.Items
	}
	return schemas.Reply(in, schemas.Source(operation.StockRelease), schemas.TypeStockReleased,
		schemas.StockReleased{SagaID: e.SagaID, OrderID: e.OrderID, Items: items})
}
