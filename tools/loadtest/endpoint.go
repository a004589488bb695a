package loadtest

import (
	"net/http"
	"net/url"
	"strings"
	"sync"

	"github.com/wdm-knative/webshop/internal/operation"
)

// routes matches a request to its route pattern in the operation table, the
// same patterns the functions and the gateway serve, so an endpoint's name
// here is the route's name everywhere else.
var routes = sync.OnceValue(func() *http.ServeMux {
	mux := http.NewServeMux()
	nop := http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})
	for _, op := range operation.All {
		for _, r := range op.Routes {
			mux.Handle(r, nop)
		}
	}
	return mux
})

// Endpoint names a request by its route, IDs and amounts replaced by the
// pattern's wildcards: "POST /orders/checkout/{order_id}". A path that no
// route matches keeps its first segment and stands for the rest with "…",
// so that unknown paths cannot grow the set of endpoints without bound.
func Endpoint(method, path string) string {
	r := &http.Request{Method: method, URL: &url.URL{Path: path}, Host: "shop"}
	if _, pattern := routes().Handler(r); pattern != "" {
		// A pattern without a method matches any; every route has one.
		return pattern
	}
	first, _, _ := strings.Cut(strings.TrimPrefix(path, "/"), "/")
	return method + " /" + first + "/…"
}
