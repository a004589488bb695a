// Package stock is the stock domain: items with a price and a stock level,
// one HTTP operation per file. The saga's reserve/release event handlers
// live beside them.
package stock

import (
	"log/slog"
	"net/http"

	"github.com/wdm-knative/webshop/internal/api"
	"github.com/wdm-knative/webshop/internal/operation"
	"github.com/wdm-knative/webshop/internal/pgtx"
)

// Domain errors, mapped to HTTP statuses by api.Status.
var (
	ErrItemNotFound      = api.NewError(api.ErrNotFound, "item not found")
	ErrInsufficientStock = api.NewError(api.ErrRejected, "insufficient stock")
)

// Store is the stock database. Each method is one operation's write or read,
// kept in the operation's file.
type Store struct {
	db pgtx.Executor
}

// NewStore returns a store on db (the stock database).
func NewStore(db pgtx.Executor) *Store { return &Store{db: db} }

// Handlers serves the stock operations over HTTP.
type Handlers struct {
	store *Store
	log   *slog.Logger
}

// NewHandlers returns the HTTP side of the stock operations.
func NewHandlers(store *Store, log *slog.Logger) *Handlers {
	return &Handlers{store: store, log: log}
}

// Operations maps each stock HTTP operation's name (internal/operation) to
// its handler.
func (h *Handlers) Operations() map[string]http.Handler {
	return map[string]http.Handler{
		operation.StockItemCreate: http.HandlerFunc(h.Create),
		operation.StockFind:       http.HandlerFunc(h.Find),
		operation.StockAdd:        http.HandlerFunc(h.Add),
		operation.StockSubtract:   http.HandlerFunc(h.Subtract),
		operation.StockBatchInit:  http.HandlerFunc(h.BatchInit),
	}
}

// Item is an item's stock and price as the API shows it.
type Item struct {
	Stock int64 `json:"stock"`
	Price int64 `json:"price"`
}

// levelResponse answers add and subtract with the new stock level.
type levelResponse struct {
	ItemID string `json:"item_id"`
	Stock  int64  `json:"stock"`
}
