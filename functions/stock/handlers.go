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

// Handlers serves the stock operations: over HTTP, and the saga's steps as
// CloudEvent handlers.
type Handlers struct {
	store *Store
	log   *slog.Logger
}

// NewHandlers returns the stock operations on db (the stock database).
func NewHandlers(db pgtx.Executor, log *slog.Logger) *Handlers {
	return &Handlers{store: &Store{db: db}, log: log}
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

// Create serves POST /stock/item/create/{price}: a new item with stock 0.
func (h *Handlers) Create(p *api.Path) api.Run[map[string]string] {
	price := p.Amount("price")
	return func(ctx context.Context) (map[string]string, error) {
		id, err := h.store.Create(ctx, price)
		return map[string]string{"item_id": id}, err
	}
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

// BatchInit serves POST /stock/batch_init/{n}/{starting_stock}/{item_price}:
// items "0".."n-1", each with that stock and price, overwriting any that exist.
func (h *Handlers) BatchInit(p *api.Path) api.Run[map[string]string] {
	n := p.Batch("n")
	stock := p.Amount("starting_stock")
	price := p.Amount("item_price")
	return func(ctx context.Context) (map[string]string, error) {
		return map[string]string{"msg": "Batch init for stock successful"}, h.store.BatchInit(ctx, n, stock, price)
	}
}
