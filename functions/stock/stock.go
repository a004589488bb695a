// Package stock is the stock domain: items with a price and a stock level.
// Its HTTP operations are declared together in handlers.go, the table and
// the thin handlers that read a request's path and answer; each operation's
// SQL is a Store method in a file of its own. The saga's reserve/release
// steps live beside them, their CloudEvent handlers in handlers.go too.
package stock

import (
	"github.com/wdm-knative/webshop/internal/api"
	"github.com/wdm-knative/webshop/internal/pgtx"
)

// Domain errors, mapped to HTTP statuses by api.Status.
var (
	ErrItemNotFound      = api.NewError(api.ErrNotFound, "item not found")
	ErrInsufficientStock = api.NewError(api.ErrRejected, "insufficient stock")
)

// Store is the stock database. Each method is one operation's write or read,
// kept in the operation's file; NewHandlers makes the one it serves from.
type Store struct {
	db pgtx.Executor
}

// Item is an item's stock and price as the API shows it.
type Item struct {
	Stock int64 `json:"stock"`
	Price int64 `json:"price"`
}
