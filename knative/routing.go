package knative

import (
	"fmt"
	"slices"
	"strings"

	"github.com/wdm-knative/webshop/internal/operation"
)

// Admin reports whether an operation resets or bulk-loads a domain
// (batch_init, or a route under /admin/). Such routes stay off the public
// host: only the bench overlay routes them, because the course's load test
// calls batch_init before it starts.
func Admin(op operation.Operation) bool {
	for _, route := range op.Routes {
		_, path, _ := strings.Cut(route, " ")
		for _, seg := range strings.Split(path, "/") {
			if seg == "batch_init" || seg == "admin" {
				return true
			}
		}
	}
	return false
}

// RouteRule sends one public path prefix to one Service.
type RouteRule struct {
	Prefix  string // Gateway API PathPrefix (matched element by element)
	Service string
	// CatchAll marks the per-domain fallback rule: the Service answers
	// unknown paths of its domain with the API's JSON 404.
	CatchAll bool
}

// RoutePrefix is a route pattern's Gateway API PathPrefix, its literal part
// before the first wildcard: "POST /stock/find/{item_id}" -> "/stock/find".
func RoutePrefix(route string) string {
	_, path, _ := strings.Cut(route, " ")
	var literal []string
	for _, seg := range strings.Split(strings.TrimPrefix(path, "/"), "/") {
		if strings.Contains(seg, "{") {
			break
		}
		literal = append(literal, seg)
	}
	return "/" + strings.Join(literal, "/")
}

// catchAllService answers unknown paths under a public prefix.
var catchAllService = map[string]string{
	"/orders/":  operation.OrderFind,
	"/stock/":   operation.StockFind,
	"/payment/": operation.PaymentFindUser,
}

// RouteTables derives the public path routing from the operations that are
// not Admin: public prefix ("/stock/") -> rules, sorted by path prefix. An
// admin path falls to its domain's catch-all rule and gets the API's 404.
func RouteTables() (map[string][]RouteRule, error) {
	return routeTables(func(op operation.Operation) bool { return !Admin(op) }, true)
}

// AdminRouteTables is the routing of the Admin operations alone (no
// catch-alls), which the bench overlay adds to the public host.
func AdminRouteTables() (map[string][]RouteRule, error) {
	return routeTables(Admin, false)
}

func routeTables(include func(operation.Operation) bool, catchAll bool) (map[string][]RouteRule, error) {
	tables := map[string][]RouteRule{}
	owner := map[string]string{}
	for _, op := range operation.All {
		if !include(op) {
			continue
		}
		for _, route := range op.Routes {
			prefix := RoutePrefix(route)
			if other, ok := owner[prefix]; ok {
				if other != op.Name {
					return nil, fmt.Errorf("path prefix %s is claimed by %s and %s", prefix, other, op.Name)
				}
				continue
			}
			owner[prefix] = op.Name
			public := operation.DomainPathPrefix(route)
			tables[public] = append(tables[public], RouteRule{Prefix: prefix, Service: op.Name})
		}
	}
	for public, rules := range tables {
		if catchAll {
			svc, ok := catchAllService[public]
			if !ok {
				return nil, fmt.Errorf("no catch-all Service for %s", public)
			}
			rules = append(rules, RouteRule{Prefix: strings.TrimSuffix(public, "/"), Service: svc, CatchAll: true})
		}
		slices.SortFunc(rules, func(a, b RouteRule) int { return strings.Compare(a.Prefix, b.Prefix) })
		tables[public] = rules
	}
	if catchAll {
		// A path of no domain must get the API's JSON 404 too, not the
		// gateway's own page (Traefik's "404 page not found", a cloud load
		// balancer's default backend): the API walk's GET /no/such/route
		// found that on the local cluster.
		tables[RootPrefix] = []RouteRule{{Prefix: RootPrefix, Service: rootCatchAll, CatchAll: true}}
	}
	return tables, nil
}

// RootPrefix is the public prefix of the paths under no domain.
const RootPrefix = "/"

// rootCatchAll answers the paths under no domain.
const rootCatchAll = operation.OrderFind

// RouteName is the HTTPRoute serving a public prefix: "/stock/" -> "webshop-stock".
// The paths under no domain are served by "webshop-unknown-paths".
func RouteName(public string) string {
	if public == RootPrefix {
		return "webshop-unknown-paths"
	}
	return "webshop-" + strings.Trim(public, "/")
}

// AdminRouteName is the bench overlay's HTTPRoute of a public prefix's admin
// operations: "/stock/" -> "webshop-stock-admin".
func AdminRouteName(public string) string { return RouteName(public) + "-admin" }
