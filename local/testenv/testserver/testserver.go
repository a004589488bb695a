// Package testserver serves a domain's HTTP operations for a test, routed as
// the gateway and the function route them. (It sits apart from testenv: it
// builds on shopdb, which builds on testenv.)
package testserver

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
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
