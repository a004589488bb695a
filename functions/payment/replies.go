package payment

import (
	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/wdm-knative/webshop/internal/operation"
	"github.com/wdm-knative/webshop/schemas"
)

// debitReply answers a checkout.requested from the ledger row.
func debitReply(in event.Event, e LedgerEntry) (*event.Event, error) {
	src := schemas.Source(operation.PaymentDebit)
	switch e.State {
	case LedgerDebited, LedgerRefunded:
		return schemas.Reply(in, src, schemas.TypePaymentDebited,
			schemas.PaymentDebited{SagaID: e.SagaID, OrderID: e.OrderID, UserID: e.UserID, Amount: e.Amount})
	case LedgerRejected:
		return schemas.Reply(in, src, schemas.TypePaymentRejected,
			schemas.PaymentRejected{SagaID: e.SagaID, OrderID: e.OrderID, UserID: e.UserID, Reason: e.Reason})
	default: // tombstone: the saga was compensated before this arrived
		return schemas.Reply(in, src, schemas.TypePaymentRejected,
			schemas.PaymentRejected{SagaID: e.SagaID, OrderID: e.OrderID, UserID: e.UserID, Reason: schemas.ReasonCompensated})
	}
}

// refundReply answers a checkout.compensate from the ledger row: refunded,
// with the amount given back (0 unless something had been debited).
func refundReply(in event.Event, e LedgerEntry) (*event.Event, error) {
	var amount int64
	if e.State == LedgerRefunded {
		amount = e.Amount
	}
	return schemas.Reply(in, schemas.Source(operation.PaymentRefund), schemas.TypePaymentRefunded,
		schemas.PaymentRefunded{SagaID: e.SagaID, OrderID: e.OrderID, UserID: e.UserID, Amount: amount})
}
