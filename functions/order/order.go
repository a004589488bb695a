// Package order is the order domain: orders, their items and total cost. Its
// HTTP operations are declared together in handlers.go, the table and the
// thin handlers that read a request's path and answer; each operation's SQL
// is a Store method in a file of its own. Prices come from the stock function
// and users are checked with the payment function, both over HTTP; the
// checkout saga changes an order's status.
package order

import (
	"context"
	"encoding/json"
	"errors"

	"github.com/jackc/pgx/v5"

	"github.com/wdm-knative/webshop/internal/api"
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
	// ErrStockUnavailable and ErrPaymentUnavailable are the functions the
	// order domain depends on not answering: 503 to the client, whose
	// request changed nothing and may be retried.
	ErrStockUnavailable   = api.NewError(api.ErrUnavailable, "stock service unavailable")
	ErrPaymentUnavailable = api.NewError(api.ErrUnavailable, "payment service unavailable")
)

// Order statuses (the orders.status column).
const (
	StatusOpen        = "open"
	StatusCheckingOut = "checking_out"
	StatusPaid        = "paid"
)

// Store is the order database. Each method is one operation's write or read,
// kept in the operation's file; NewHandlers makes the one it serves from.
type Store struct {
	db pgtx.DB
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
