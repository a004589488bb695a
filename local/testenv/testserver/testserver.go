// Package testserver serves a domain's HTTP operations for a test, routed as
// the gateway and the function route them, and the three domains wired to
// each other as in the local stack. (It sits apart from testenv: it
// builds on shopdb, which builds on testenv.)
package testserver

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/wdm-knative/webshop/functions/order"
	"github.com/wdm-knative/webshop/functions/payment"
	"github.com/wdm-knative/webshop/functions/stock"
	"github.com/wdm-knative/webshop/internal/api"
	"github.com/wdm-knative/webshop/internal/operation"
	"github.com/wdm-knative/webshop/local/testenv/shopdb"
)

// Serve mounts every operation of internal/operation that handlers (keyed by
// operation name) has at its public routes, and returns the server, closed
// when the test ends.
func Serve(t testing.TB, handlers map[string]http.Handler) *httptest.Server {
	t.Helper()
	var ops []operation.Operation
	for _, op := range operation.All {
		if _, ok := handlers[op.Name]; ok && !op.Event() {
			ops = append(ops, op)
		}
	}
	rt := api.NewRouter()
	if err := rt.Mount(ops, handlers); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(rt)
	t.Cleanup(srv.Close)
	return srv
}

// Domain is a domain's HTTP operations served on a fresh database of its own.
type Domain struct {
	*httptest.Server
	DB *pgxpool.Pool
}

// ServeDomain migrates a fresh database as domain ("stock", "payment",
// "order") and serves the operations handlers builds on it.
func ServeDomain(t testing.TB, domain string, handlers func(db *pgxpool.Pool, log *slog.Logger) map[string]http.Handler) *Domain {
	t.Helper()
	db := shopdb.Pool(t, domain, 0)
	log := slog.New(slog.NewTextHandler(t.Output(), nil))
	return &Domain{Server: Serve(t, handlers(db, log)), DB: db}
}

// Stock serves the stock operations on a fresh database of their own.
func Stock(t testing.TB) *Domain {
	t.Helper()
	return ServeDomain(t, "stock", func(db *pgxpool.Pool, log *slog.Logger) map[string]http.Handler {
		return stock.NewHandlers(db, log).Operations()
	})
}

// Payment serves the payment operations on a fresh database of their own.
func Payment(t testing.TB) *Domain {
	t.Helper()
	return ServeDomain(t, "payment", func(db *pgxpool.Pool, log *slog.Logger) map[string]http.Handler {
		return payment.NewHandlers(db, log).Operations()
	})
}

// Order serves the order operations on a fresh database of their own,
// reaching stock and payment at their servers as STOCK_URL and PAYMENT_URL,
// as they do through the gateway. more, when set, adds operations built on
// the order database (the checkout) to ops before they are served.
func Order(t testing.TB, stockSrv, paymentSrv *Domain, more func(db *pgxpool.Pool, log *slog.Logger, ops map[string]http.Handler)) *Domain {
	t.Helper()
	client := api.NewHTTPClient()
	t.Cleanup(client.CloseIdleConnections)
	return ServeDomain(t, "order", func(db *pgxpool.Pool, log *slog.Logger) map[string]http.Handler {
		ops := order.NewHandlers(db, order.NewStockClient(stockSrv.URL, client),
			order.NewPaymentClient(paymentSrv.URL, client), log).Operations()
		if more != nil {
			more(db, log, ops)
		}
		return ops
	})
}
