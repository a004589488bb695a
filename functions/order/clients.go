package order

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/wdm-knative/webshop/internal/api"
)

// Errors of the functions the order domain depends on: 503 to the client,
// whose request changed nothing and may be retried.
var (
	ErrStockUnavailable   = api.NewError(api.ErrUnavailable, "stock service unavailable")
	ErrPaymentUnavailable = api.NewError(api.ErrUnavailable, "payment service unavailable")
)

// StockClient reads item prices from the stock function's find operation.
type StockClient struct {
	base   string
	client *http.Client
}

// NewStockClient calls the stock function at base (STOCK_URL: locally the
// process serving stock-find, in a cluster its cluster-local Service).
func NewStockClient(base string, client *http.Client) *StockClient {
	return &StockClient{base: strings.TrimRight(base, "/"), client: client}
}

// Price is the item's price; ErrUnknownItem when stock does not know it.
func (c *StockClient) Price(ctx context.Context, itemID string) (int64, error) {
	var item struct {
		Price int64 `json:"price"`
	}
	found, err := getJSON(ctx, c.client, c.base+"/stock/find/"+url.PathEscape(itemID), &item)
	switch {
	case err != nil:
		return 0, fmt.Errorf("%w: %w", ErrStockUnavailable, err)
	case !found:
		return 0, fmt.Errorf("item %q: %w", itemID, ErrUnknownItem)
	}
	return item.Price, nil
}

// PaymentClient checks users with the payment function's find_user operation.
type PaymentClient struct {
	base   string
	client *http.Client
}

// NewPaymentClient calls the payment function at base (PAYMENT_URL).
func NewPaymentClient(base string, client *http.Client) *PaymentClient {
	return &PaymentClient{base: strings.TrimRight(base, "/"), client: client}
}

// UserExists reports whether payment knows the user.
func (c *PaymentClient) UserExists(ctx context.Context, userID string) (bool, error) {
	var user struct{}
	found, err := getJSON(ctx, c.client, c.base+"/payment/find_user/"+url.PathEscape(userID), &user)
	if err != nil {
		return false, fmt.Errorf("%w: %w", ErrPaymentUnavailable, err)
	}
	return found, nil
}

// getJSON GETs u and decodes a 200 answer into v. A 404 is (false, nil):
// the other function is up and does not know the ID. Anything else is an
// error: the other function could not answer.
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
