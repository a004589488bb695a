package order

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/wdm-knative/webshop/internal/api"
	"github.com/wdm-knative/webshop/internal/operation"
	"github.com/wdm-knative/webshop/internal/pgtx"
)

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

// NewHandlers returns the HTTP side of the order operations on db (the order
// database). prices is used only by addItem and users only by create; either
// may be nil in a process that does not serve that operation.
func NewHandlers(db pgtx.DB, prices Prices, users Users, log *slog.Logger) *Handlers {
	return &Handlers{store: &Store{db: db}, prices: prices, users: users, log: log}
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

// Create serves POST /orders/create/{user_id}: a new open order, empty. 400
// when the payment function does not know the user, 503 when it cannot say.
func (h *Handlers) Create(p *api.Path) api.Run[map[string]string] {
	userID := p.ID("user_id")
	return func(ctx context.Context) (map[string]string, error) {
		exists, err := h.users.UserExists(ctx, userID)
		if err != nil {
			return nil, err
		}
		if !exists {
			return nil, fmt.Errorf("create order for %q: %w", userID, ErrUnknownUser)
		}
		id, err := h.store.Create(ctx, userID)
		return map[string]string{"order_id": id}, err
	}
}

// costResponse answers an item change with the order's new total.
type costResponse struct {
	OrderID   string `json:"order_id"`
	TotalCost int64  `json:"total_cost"`
}

// AddItem serves both forms of adding an item:
//   - POST /orders/addItem/{order_id}/{item_id}/{quantity} (2024, quantity >= 1);
//   - POST /orders/addItem/{order_id}/{item_id} (2023, one unit).
//
// The price is read from the stock function; 400 when stock does not know
// the item or the order is no longer open.
func (h *Handlers) AddItem(p *api.Path) api.Run[costResponse] {
	orderID := p.ID("order_id")
	itemID := p.ID("item_id")
	qty := int64(1)
	if p.Has("quantity") {
		qty = p.Positive("quantity")
	}
	return func(ctx context.Context) (costResponse, error) {
		// Read the price before the transaction: no row lock is held while we
		// wait on another function.
		price, err := h.prices.Price(ctx, itemID)
		if err != nil {
			return costResponse{}, err
		}
		total, err := h.store.AddItem(ctx, orderID, itemID, qty, price)
		return costResponse{OrderID: orderID, TotalCost: total}, err
	}
}

// RemoveItem serves DELETE (or POST) /orders/removeItem/{order_id}/{item_id}
// (2023 form): one unit of the item leaves the order and total_cost drops by
// its price. 400 when the item is not in the order or the order is not open.
func (h *Handlers) RemoveItem(p *api.Path) api.Run[costResponse] {
	orderID, itemID := p.ID("order_id"), p.ID("item_id")
	return func(ctx context.Context) (costResponse, error) {
		total, err := h.store.RemoveItem(ctx, orderID, itemID)
		return costResponse{OrderID: orderID, TotalCost: total}, err
	}
}

// Remove serves DELETE /orders/remove/{order_id} (2023 form): the order and
// its items are deleted; refused (400) once paid or while checking out.
func (h *Handlers) Remove(p *api.Path) api.Run[map[string]bool] {
	id := p.ID("order_id")
	return func(ctx context.Context) (map[string]bool, error) {
		return map[string]bool{"done": true}, h.store.Remove(ctx, id)
	}
}

// BatchInit serves POST /orders/batch_init/{n}/{n_items}/{n_users}/{item_price}:
// orders "0".."n-1", each open with two random items of "0".."n_items-1"
// (quantity 1 each, or 2 when both draws pick the same item) for a random user
// of "0".."n_users-1", overwriting any that exist, as the course benchmark's
// reference implementation does.
func (h *Handlers) BatchInit(p *api.Path) api.Run[map[string]string] {
	n := p.Batch("n")
	nItems := p.Positive("n_items")
	nUsers := p.Positive("n_users")
	price := p.Amount("item_price")
	return func(ctx context.Context) (map[string]string, error) {
		return map[string]string{"msg": "Batch init for orders successful"}, h.store.BatchInit(ctx, n, nItems, nUsers, price)
	}
}
