// Package testserver serves a domain's HTTP operations for a test, routed as
// the gateway and the function route them. (It sits apart from testenv,
// whose users include internal/api's own tests.)
package testserver

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/wdm-knative/webshop/internal/api"
	"github.com/wdm-knative/webshop/internal/operation"
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
