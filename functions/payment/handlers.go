package payment

import (
	"context"
	"log/slog"
	"net/http"

	"github.com/wdm-knative/webshop/functions/participant"
	"github.com/wdm-knative/webshop/internal/api"
	"github.com/wdm-knative/webshop/internal/eventhttp"
	"github.com/wdm-knative/webshop/internal/operation"
	"github.com/wdm-knative/webshop/internal/pgtx"
)

// Handlers serves the payment operations: over HTTP, and the saga's steps
// as CloudEvent handlers.
type Handlers struct {
	store *Store
	log   *slog.Logger
}

// NewHandlers returns the payment operations on db (the payment database).
func NewHandlers(db pgtx.DB, log *slog.Logger) *Handlers {
	return &Handlers{store: &Store{db: db}, log: log}
}

// Operations maps each payment HTTP operation's name (internal/operation) to
// its handler.
func (h *Handlers) Operations() map[string]http.Handler {
	return map[string]http.Handler{
		operation.PaymentCreateUser: api.Handle(h.log, h.CreateUser),
		operation.PaymentFindUser:   api.Lookup(h.log, "user_id", h.store.FindUser),
		operation.PaymentAddFunds:   api.Handle(h.log, h.AddFunds),
		operation.PaymentPay:        api.Handle(h.log, h.Pay),
		operation.PaymentCancel:     api.Handle(h.log, h.Cancel),
		operation.PaymentStatus:     api.Handle(h.log, h.Status),
		operation.PaymentBatchInit:  api.Handle(h.log, h.BatchInit),
	}
}

// EventOperations maps each payment event operation's name to its handler.
func (h *Handlers) EventOperations() map[string]eventhttp.Handler {
	return map[string]eventhttp.Handler{
		operation.PaymentDebit:  participant.Step(h.log, "payment debit", h.store.Debit, debitReply),
		operation.PaymentRefund: participant.Step(h.log, "payment refund", h.store.Refund, refundReply),
	}
}

// CreateUser serves POST /payment/create_user: a new user with credit 0.
func (h *Handlers) CreateUser(*api.Path) api.Run[map[string]string] {
	return func(ctx context.Context) (map[string]string, error) {
		id, err := h.store.CreateUser(ctx)
		return map[string]string{"user_id": id}, err
	}
}

// AddFunds serves POST /payment/add_funds/{user_id}/{amount} (amount > 0).
func (h *Handlers) AddFunds(p *api.Path) api.Run[map[string]bool] {
	id, amount := p.ID("user_id"), p.Positive("amount")
	return func(ctx context.Context) (map[string]bool, error) {
		_, err := h.store.AddFunds(ctx, id, amount)
		return map[string]bool{"done": true}, err
	}
}

// Pay serves both forms of the pay operation:
//   - POST /payment/pay/{user_id}/{amount} (2024): take amount from the credit;
//   - POST /payment/pay/{user_id}/{order_id}/{amount} (2023): a payment
//     recorded against the order, taken at most once per (user, order).
//
// Either answers 400 when the credit would go below 0, and then nothing
// changes. A zero amount is accepted: an order without items costs 0.
func (h *Handlers) Pay(p *api.Path) api.Run[User] {
	userID := p.ID("user_id")
	amount := p.Amount("amount")
	var orderID string
	if p.Has("order_id") {
		orderID = p.ID("order_id")
	}
	return func(ctx context.Context) (User, error) {
		if orderID == "" {
			credit, err := h.store.Pay(ctx, userID, amount)
			return User{UserID: userID, Credit: credit}, err
		}
		credit, err := h.store.PayOrder(ctx, userID, orderID, amount)
		return User{UserID: userID, Credit: credit}, err
	}
}

// Cancel serves POST /payment/cancel/{user_id}/{order_id} (2023 form): the
// order's payment is refunded once; 400 when there is no payment to refund.
func (h *Handlers) Cancel(p *api.Path) api.Run[map[string]bool] {
	userID, orderID := p.ID("user_id"), p.ID("order_id")
	return func(ctx context.Context) (map[string]bool, error) {
		_, err := h.store.Cancel(ctx, userID, orderID)
		return map[string]bool{"done": true}, err
	}
}

// Status serves GET or POST /payment/status/{user_id}/{order_id} (2023
// form): {"paid": true} while the order has a payment that was not cancelled.
func (h *Handlers) Status(p *api.Path) api.Run[map[string]bool] {
	userID, orderID := p.ID("user_id"), p.ID("order_id")
	return func(ctx context.Context) (map[string]bool, error) {
		paid, err := h.store.Paid(ctx, userID, orderID)
		return map[string]bool{"paid": paid}, err
	}
}

// BatchInit serves POST /payment/batch_init/{n}/{starting_money}: users
// "0".."n-1", each with that credit, overwriting any that exist.
func (h *Handlers) BatchInit(p *api.Path) api.Run[map[string]string] {
	n := p.Batch("n")
	money := p.Amount("starting_money")
	return func(ctx context.Context) (map[string]string, error) {
		return map[string]string{"msg": "Batch init for users successful"}, h.store.BatchInit(ctx, n, money)
	}
}
