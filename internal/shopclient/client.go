// Package shopclient talks to the web shop's public HTTP API as the course's
// benchmark clients do. The end-to-end tests and the load client use it.
package shopclient

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"time"
)

// ErrUnavailable marks answers that say nothing about the outcome: a 5xx or a
// network error. The caller may retry; nothing was decided for it.
var ErrUnavailable = errors.New("shop unavailable")

// StatusError is a definitive non-2xx answer (4xx).
type StatusError struct {
	Status int
	Body   string
}

func (e *StatusError) Error() string { return fmt.Sprintf("status %d: %s", e.Status, e.Body) }

// Client calls one gateway.
type Client struct {
	Base string
	HTTP *http.Client
}

// New returns a client for the gateway at base with a transport sized for
// many concurrent callers.
func New(base string, conns int) *Client {
	tr := &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 2 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        conns,
		MaxIdleConnsPerHost: conns,
		IdleConnTimeout:     90 * time.Second,
	}
	return &Client{Base: base, HTTP: &http.Client{Transport: tr, Timeout: 60 * time.Second}}
}

// Do sends method path and decodes a 2xx JSON body into out (when non-nil).
// It returns the status; err wraps ErrUnavailable for 5xx and network errors
// and is a *StatusError for other non-2xx answers.
func (c *Client) Do(ctx context.Context, method, path string, out any) (int, error) {
	req, err := http.NewRequestWithContext(ctx, method, c.Base+path, nil)
	if err != nil {
		return 0, err
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return 0, fmt.Errorf("%w: %s %s: %v", ErrUnavailable, method, path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, fmt.Errorf("%w: reading %s %s: %v", ErrUnavailable, method, path, err)
	}
	switch {
	case resp.StatusCode >= 500:
		return resp.StatusCode, fmt.Errorf("%w: %s %s: %d %s", ErrUnavailable, method, path, resp.StatusCode, body)
	case resp.StatusCode >= 300:
		return resp.StatusCode, &StatusError{Status: resp.StatusCode, Body: string(body)}
	}
	if out != nil {
		if err := json.Unmarshal(body, out); err != nil {
			return resp.StatusCode, fmt.Errorf("%s %s: decoding %q: %w", method, path, body, err)
		}
	}
	return resp.StatusCode, nil
}

// Retry calls Do until the answer is definitive (not ErrUnavailable) or ctx
// ends, pausing between tries. Only idempotent calls may be retried blindly.
func (c *Client) Retry(ctx context.Context, method, path string, out any) (int, error) {
	for {
		code, err := c.Do(ctx, method, path, out)
		if err == nil || !errors.Is(err, ErrUnavailable) || ctx.Err() != nil {
			return code, err
		}
		select {
		case <-ctx.Done():
			return code, err
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Item is the answer of stock/find.
type Item struct {
	Stock int64 `json:"stock"`
	Price int64 `json:"price"`
}

// User is the answer of payment/find_user.
type User struct {
	UserID string `json:"user_id"`
	Credit int64  `json:"credit"`
}

// Order is the answer of orders/find.
type Order struct {
	OrderID   string  `json:"order_id"`
	Paid      bool    `json:"paid"`
	Items     [][]any `json:"items"`
	UserID    string  `json:"user_id"`
	TotalCost int64   `json:"total_cost"`
}

// CreateItem makes an item with a price and adds stock to it.
func (c *Client) CreateItem(ctx context.Context, price, stock int64) (string, error) {
	var r struct {
		ItemID string `json:"item_id"`
	}
	if _, err := c.Do(ctx, "POST", "/stock/item/create/"+itoa(price), &r); err != nil {
		return "", err
	}
	if stock > 0 {
		if _, err := c.Do(ctx, "POST", "/stock/add/"+r.ItemID+"/"+itoa(stock), nil); err != nil {
			return "", err
		}
	}
	return r.ItemID, nil
}

// CreateUser makes a user and adds credit.
func (c *Client) CreateUser(ctx context.Context, credit int64) (string, error) {
	var r struct {
		UserID string `json:"user_id"`
	}
	if _, err := c.Do(ctx, "POST", "/payment/create_user", &r); err != nil {
		return "", err
	}
	if credit > 0 {
		if _, err := c.Do(ctx, "POST", "/payment/add_funds/"+r.UserID+"/"+itoa(credit), nil); err != nil {
			return "", err
		}
	}
	return r.UserID, nil
}

// Line is a quantity of one item in an order.
type Line struct {
	ItemID   string
	Quantity int64
}

// CreateOrder makes an order for user holding lines.
func (c *Client) CreateOrder(ctx context.Context, user string, lines ...Line) (string, error) {
	var r struct {
		OrderID string `json:"order_id"`
	}
	if _, err := c.Do(ctx, "POST", "/orders/create/"+user, &r); err != nil {
		return "", err
	}
	for _, l := range lines {
		if _, err := c.Do(ctx, "POST", "/orders/addItem/"+r.OrderID+"/"+l.ItemID+"/"+itoa(l.Quantity), nil); err != nil {
			return "", err
		}
	}
	return r.OrderID, nil
}

// Checkout checks an order out once and returns the status.
func (c *Client) Checkout(ctx context.Context, order string) (int, error) {
	return c.Do(ctx, "POST", "/orders/checkout/"+order, nil)
}

// FindItem reads an item, retrying while the shop is unavailable.
func (c *Client) FindItem(ctx context.Context, id string) (Item, error) {
	var it Item
	_, err := c.Retry(ctx, "GET", "/stock/find/"+id, &it)
	return it, err
}

// FindUser reads a user, retrying while the shop is unavailable.
func (c *Client) FindUser(ctx context.Context, id string) (User, error) {
	var u User
	_, err := c.Retry(ctx, "GET", "/payment/find_user/"+id, &u)
	return u, err
}

// FindOrder reads an order, retrying while the shop is unavailable.
func (c *Client) FindOrder(ctx context.Context, id string) (Order, error) {
	var o Order
	_, err := c.Retry(ctx, "GET", "/orders/find/"+id, &o)
	return o, err
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
