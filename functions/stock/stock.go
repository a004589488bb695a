// Package stock is the stock domain: items with a price and a stock level,
// one HTTP operation per file. The saga's reserve/release event handlers
// live beside them.
package stock

import (
	"context"
	"log/slog"
	"net/http"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/wdm-knative/webshop/internal/api"
	"github.com/wdm-knative/webshop/internal/operation"
)

// Domain errors, mapped to HTTP statuses by api.Status.
var (
	ErrItemNotFound      = api.NewError(api.ErrNotFound, "item not found")
	ErrInsufficientStock = api.NewError(api.ErrRejected, "insufficient stock")
)

// DB is what the store needs of Postgres: a *pgxpool.Pool satisfies it.
type DB interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	Begin(ctx context.Context) (pgx.Tx, error)
}

// Store is the stock database. Each method is one operation's write or read,
// kept in the operation's file.
type Store struct {
	db DB
}

// NewStore returns a store on db (the stock database).
func NewStore(db DB) *Store { return &Store{db: db} }

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

func (h *Handlers) fail(w http.ResponseWriter, r *http.Request, err error) {
	api.WriteError(w, r, h.log, err)
}
