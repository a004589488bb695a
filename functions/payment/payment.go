// Package payment is the payment domain: users and their credit, and the
// per-order payments of the 2023 API form, one HTTP operation per file. The
// saga's debit/refund event handlers live beside them.
package payment

import (
	"log/slog"
	"net/http"

	"github.com/wdm-knative/webshop/functions/participant"
	"github.com/wdm-knative/webshop/internal/api"
	"github.com/wdm-knative/webshop/internal/eventhttp"
	"github.com/wdm-knative/webshop/internal/operation"
	"github.com/wdm-knative/webshop/internal/pgtx"
)

// Domain errors, mapped to HTTP statuses by api.Status.
var (
	ErrUserNotFound       = api.NewError(api.ErrNotFound, "user not found")
	ErrInsufficientCredit = api.NewError(api.ErrRejected, "insufficient credit")
	ErrNoPayment          = api.NewError(api.ErrRejected, "no payment of this order to cancel")
)

// Store is the payment database. Each method is one operation's write or
// read, kept in the operation's file.
type Store struct {
	db pgtx.DB
}

// NewStore returns a store on db (the payment database).
func NewStore(db pgtx.DB) *Store { return &Store{db: db} }

// Handlers serves the payment operations: over HTTP, and the saga's steps
// as CloudEvent handlers.
type Handlers struct {
	store *Store
	log   *slog.Logger
}

// NewHandlers returns the payment operations on store.
func NewHandlers(store *Store, log *slog.Logger) *Handlers {
	return &Handlers{store: store, log: log}
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

// User is a user as the API shows it.
type User struct {
	UserID string `json:"user_id"`
	Credit int64  `json:"credit"`
}
