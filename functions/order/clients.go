package order

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// function is another function of the shop, called over HTTP at base:
// locally the process serving the operation, in a cluster its cluster-local
// Service. A call it cannot make or that is not answered is unavailable.
type function struct {
	base        string
	client      *http.Client
	unavailable error
}

func newFunction(base string, client *http.Client, unavailable error) function {
	return function{base: strings.TrimRight(base, "/"), client: client, unavailable: unavailable}
}

// StockClient reads item prices from the stock function's find operation.
type StockClient struct{ function }

// NewStockClient calls the stock function at base (STOCK_URL).
func NewStockClient(base string, client *http.Client) *StockClient {
	return &StockClient{newFunction(base, client, ErrStockUnavailable)}
}

// Price is the item's price; ErrUnknownItem when stock does not know it.
func (c *StockClient) Price(ctx context.Context, itemID string) (int64, error) {
	var item struct {
		Price int64 `json:"price"`
	}
	found, err := c.get(ctx, "/stock/find/"+url.PathEscape(itemID), &item)
	switch {
	case err != nil:
		return 0, err
	case !found:
		return 0, fmt.Errorf("item %q: %w", itemID, ErrUnknownItem)
	}
	return item.Price, nil
}

// PaymentClient checks users with the payment function's find_user operation.
type PaymentClient struct{ function }

// NewPaymentClient calls the payment function at base (PAYMENT_URL).
func NewPaymentClient(base string, client *http.Client) *PaymentClient {
	return &PaymentClient{newFunction(base, client, ErrPaymentUnavailable)}
}

// UserExists reports whether payment knows the user.
func (c *PaymentClient) UserExists(ctx context.Context, userID string) (bool, error) {
	return c.get(ctx, "/payment/find_user/"+url.PathEscape(userID), &struct{}{})
}

// get GETs path and decodes a 200 answer into v. A 404 is (false, nil):
// the other function is up and does not know the ID. Anything else is the
// function's unavailable error: it could not answer.
func (f function) get(ctx context.Context, path string, v any) (bool, error) {
	found, err := getJSON(ctx, f.client, f.base+path, v)
	if err != nil {
		return false, fmt.Errorf("%w: %w", f.unavailable, err)
	}
	return found, nil
}

// getJSON GETs u and decodes a 200 answer into v; a 404 is (false, nil).
func getJSON(ctx context.Context, client *http.Client, u string, v any) (bool, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return false, err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return false, err
	}
	defer func() {
		// Read to EOF so the keep-alive connection goes back to the pool
		// (the decoder stops before the trailing newline).
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
	}()
	switch resp.StatusCode {
	case http.StatusOK:
		if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
			return false, fmt.Errorf("GET %s: decode: %w", u, err)
		}
		return true, nil
	case http.StatusNotFound:
		return false, nil
	default:
		return false, fmt.Errorf("GET %s: status %d", u, resp.StatusCode)
	}
}
