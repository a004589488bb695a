// Package stock is the stock domain: items with a price and a stock level,
// one HTTP operation per file. The saga's reserve/release event handlers
// live beside them.
package stock

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

// Handlers serves the stock operations: over HTTP, and the saga's steps as
// CloudEvent handlers.
type Handlers struct {
	store *Store
	log   *slog.Logger
}

// NewHandlers returns the stock operations on store.
func NewHandlers(store *Store, log *slog.Logger) *Handlers {
	return &Handlers{store: store, log: log}
}

// Operations maps each stock HTTP operation's name (internal/operation) to
// its handler.
func (h *Handlers) Operations() map[string]http.Handler {
	return map[string]http.Handler{
		operation.StockItemCreate: api.Handle(h.log, h.Create),
		operation.StockFind:       api.Lookup(h.log, "item_id", h.store.Find),
		operation.StockAdd:        api.Handle(h.log, level(h.store.Add)),
		operation.StockSubtract:   api.Handle(h.log, level(h.store.Subtract)),
		operation.StockBatchInit:  api.Handle(h.log, h.BatchInit),
	}
}

// EventOperations maps each stock event operation's name to its handler.
func (h *Handlers) EventOperations() map[string]eventhttp.Handler {
	return map[string]eventhttp.Handler{
		operation.StockReserve: participant.Step(h.log, "stock reserve", h.store.Reserve, reserveReply),
		operation.StockRelease: participant.Step(h.log, "stock release", h.store.Release, releaseReply),
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

// level serves add and subtract: change by a positive amount the stock of
// the item in the path, and answer the new level.
func level(change func(ctx context.Context, id string, amount int64) (int64, error)) func(p *api.Path) api.Run[levelResponse] {
	return func(p *api.Path) api.Run[levelResponse] {
		id, amount := p.ID("item_id"), p.Positive("amount")
		return func(ctx context.Context) (levelResponse, error) {
			level, err := change(ctx, id, amount)
			return levelResponse{ItemID: id, Stock: level}, err
		}
	}
}
