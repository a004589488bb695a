// Package payment is the payment domain: users and their credit, and the
// per-order payments of the 2023 API form. Its HTTP operations are declared
// together in handlers.go, the table and the thin handlers that read a
// request's path and answer; each operation's SQL is a Store method in a
// file of its own. The saga's debit/refund steps live beside them, their
// CloudEvent handlers in handlers.go too.
package payment

import (
	"github.com/wdm-knative/webshop/internal/api"
	"github.com/wdm-knative/webshop/internal/pgtx"
)

// Domain errors, mapped to HTTP statuses by api.Status.
var (
	ErrUserNotFound       = api.NewError(api.ErrNotFound, "user not found")
	ErrInsufficientCredit = api.NewError(api.ErrRejected, "insufficient credit")
	ErrNoPayment          = api.NewError(api.ErrRejected, "no payment of this order to cancel")
)

// Store is the payment database. Each method is one operation's write or
// read, kept in the operation's file; NewHandlers makes the one it serves
// from.
type Store struct {
	db pgtx.DB
}

// User is a user as the API shows it.
type User struct {
	UserID string `json:"user_id"`
	Credit int64  `json:"credit"`
}
