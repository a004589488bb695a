// Package payment is the payment domain: users and their credit, and the
// per-order payments of the 2023 API form, one HTTP operation per file. The
// saga's debit/refund event handlers live beside them.
package payment

import (
	"log/slog"
	"net/http"

	"github.com/wdm-knative/webshop/internal/api"
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

// Handlers serves the payment operations over HTTP.
type Handlers struct {
	store *Store
	log   *slog.Logger
}

// NewHandlers returns the HTTP side of the payment operations.
func NewHandlers(store *Store, log *slog.Logger) *Handlers {
	return &Handlers{store: store, log: log}
}

// Operations maps each payment HTTP operation's name (internal/operation) to
// its handler.
func (h *Handlers) Operations() map[string]http.Handler {
	return map[string]http.Handler{
		operation.PaymentCreateUser: http.HandlerFunc(h.CreateUser),
		operation.PaymentFindUser:   http.HandlerFunc(h.FindUser),
		operation.PaymentAddFunds:   http.HandlerFunc(h.AddFunds),
		operation.PaymentPay:        http.HandlerFunc(h.Pay),
		operation.PaymentCancel:     http.HandlerFunc(h.Cancel),
		operation.PaymentStatus:     http.HandlerFunc(h.Status),
		operation.PaymentBatchInit:  http.HandlerFunc(h.BatchInit),
	}
}

// User is a user as the API shows it.
type User struct {
	UserID string `json:"user_id"`
	Credit int64  `json:"credit"`
}
