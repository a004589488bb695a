// Package order is the order domain: orders, their items and total cost, one
// HTTP operation per file. Prices come from the stock function and users are
// checked with the payment function, both over HTTP; the checkout saga
// changes an order's status.
package order

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"

	"github.com/jackc/pgx/v5"

	"github.com/wdm-knative/webshop/internal/api"
	"github.com/wdm-knative/webshop/internal/operation"
	"github.com/wdm-knative/webshop/internal/pgtx"
)

// Domain errors, mapped to HTTP statuses by api.Status.
var (
	ErrOrderNotFound = api.NewError(api.ErrNotFound, "order not found")
	// ErrOrderNotOpen refuses changes to an order that is being checked out
	// or is paid.
	ErrOrderNotOpen   = api.NewError(api.ErrRejected, "order is being checked out or already paid")
	ErrUnknownUser    = api.NewError(api.ErrRejected, "user does not exist")
	ErrUnknownItem    = api.NewError(api.ErrRejected, "item does not exist")
	ErrItemNotInOrder = api.NewError(api.ErrRejected, "item is not in the order")
)

// Order statuses (the orders.status column).
const (
	StatusOpen        = "open"
	StatusCheckingOut = "checking_out"
	StatusPaid        = "paid"
)

// Store is the order database. Each method is one operation's write or read,
// kept in the operation's file.
type Store struct {
	db pgtx.DB
}

// NewStore returns a store on db (the order database).
func NewStore(db pgtx.DB) *Store { return &Store{db: db} }

// Prices tells an item's price; StockClient asks the stock function.
type Prices interface {
	Price(ctx context.Context, itemID string) (int64, error)
}

// Users tells whether a user exists; PaymentClient asks the payment function.
type Users interface {
	UserExists(ctx context.Context, userID string) (bool, error)
}

// Handlers serves the order operations over HTTP, except the checkout (the
// saga's; see saga/checkout.go).
type Handlers struct {
	store  *Store
	prices Prices
	users  Users
	log    *slog.Logger
}

// NewHandlers returns the HTTP side of the order operations. prices is used
// only by addItem and users only by create; either may be nil in a process
// that does not serve that operation.
func NewHandlers(store *Store, prices Prices, users Users, log *slog.Logger) *Handlers {
	return &Handlers{store: store, prices: prices, users: users, log: log}
}

// Operations maps each order HTTP operation's name (internal/operation) to
// its handler. order-checkout is not among them: the root function wires it.
func (h *Handlers) Operations() map[string]http.Handler {
	return map[string]http.Handler{
		operation.OrderCreate:     api.Handle(h.log, h.Create),
		operation.OrderFind:       api.Lookup(h.log, "order_id", h.store.Find),
		operation.OrderAddItem:    api.Handle(h.log, h.AddItem),
		operation.OrderRemoveItem: api.Handle(h.log, h.RemoveItem),
		operation.OrderRemove:     api.Handle(h.log, h.Remove),
		operation.OrderBatchInit:  api.Handle(h.log, h.BatchInit),
	}
}

// Order is an order as the API shows it.
type Order struct {
	OrderID   string `json:"order_id"`
	Paid      bool   `json:"paid"`
	Items     []Line `json:"items"`
	UserID    string `json:"user_id"`
	TotalCost int64  `json:"total_cost"`
	Status    string `json:"status"`
}

// Line is one item of an order and its quantity.
type Line struct {
	ItemID   string
	Quantity int64
}

// MarshalJSON writes a line as [item_id, quantity], the API's form.
func (l Line) MarshalJSON() ([]byte, error) {
	return json.Marshal([]any{l.ItemID, l.Quantity})
}

// UnmarshalJSON reads the [item_id, quantity] form.
func (l *Line) UnmarshalJSON(b []byte) error {
	var pair []json.RawMessage
	if err := json.Unmarshal(b, &pair); err != nil {
		return err
	}
	if len(pair) != 2 {
		return &json.UnmarshalTypeError{Value: string(b), Type: nil}
	}
	if err := json.Unmarshal(pair[0], &l.ItemID); err != nil {
		return err
	}
	return json.Unmarshal(pair[1], &l.Quantity)
}

// costResponse answers an item change with the order's new total.
type costResponse struct {
	OrderID   string `json:"order_id"`
	TotalCost int64  `json:"total_cost"`
}

// lockOpen locks an order's row for the rest of tx and checks that it is
// open. Every change to an order's items goes through it, so item changes
// and the saga's status change on one order are serialised by one row lock.
func lockOpen(ctx context.Context, tx pgx.Tx, orderID string) error {
	var status string
	err := tx.QueryRow(ctx, `SELECT status FROM orders WHERE id = $1 FOR UPDATE`, orderID).Scan(&status)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return ErrOrderNotFound
	case err != nil:
		return err
	case status != StatusOpen:
		return ErrOrderNotOpen
	}
	return nil
}
