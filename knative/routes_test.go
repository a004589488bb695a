package knative

import (
	"bufio"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/wdm-knative/webshop/internal/operation"
)

// httpRoute is the subset of Gateway API's HTTPRoute (v1) the shop uses;
// strict decoding rejects any field outside it.
type httpRoute struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Metadata   struct {
		Name      string            `json:"name"`
		Namespace string            `json:"namespace"`
		Labels    map[string]string `json:"labels"`
	} `json:"metadata"`
	Spec struct {
		ParentRefs []struct {
			Name string `json:"name"`
		} `json:"parentRefs"`
		Hostnames []string `json:"hostnames"`
		Rules     []struct {
			Matches []struct {
				Path struct {
					Type  string `json:"type"`
					Value string `json:"value"`
				} `json:"path"`
			} `json:"matches"`
			Filters []struct {
				Type       string `json:"type"`
				URLRewrite struct {
					Hostname string `json:"hostname"`
				} `json:"urlRewrite"`
			} `json:"filters"`
			BackendRefs []struct {
				Kind      string `json:"kind"`
				Name      string `json:"name"`
				Namespace string `json:"namespace"`
				Port      int    `json:"port"`
			} `json:"backendRefs"`
		} `json:"rules"`
	} `json:"spec"`
}

// publicRule is one HTTPRoute rule reduced to what routing needs.
type publicRule struct {
	route, prefix, host string
}

func publicRules(t *testing.T) []publicRule {
	t.Helper()
	return publicRulesOf(t, baseManifests(t), IngressNamespace, IngressService)
}

// publicRulesOf reads the rules of every HTTPRoute among ms, each of which
// must forward to the Knative ingress Service ingressNS/ingressSvc.
func publicRulesOf(t *testing.T, ms []manifest, ingressNS, ingressSvc string) []publicRule {
	t.Helper()
	var out []publicRule
	for _, m := range ofKind(ms, "gateway.networking.k8s.io/v1", "HTTPRoute") {
		var r httpRoute
		decodeStrict(t, m, &r)
		// Gateway API caps an HTTPRoute at 16 rules.
		if len(r.Spec.Rules) > 16 {
			t.Errorf("%s has %d rules, Gateway API allows 16", m, len(r.Spec.Rules))
		}
		if len(r.Spec.ParentRefs) != 1 || r.Spec.ParentRefs[0].Name != GatewayName {
			t.Errorf("%s attaches to %v, want Gateway %s", m, r.Spec.ParentRefs, GatewayName)
		}
		for i, rule := range r.Spec.Rules {
			if len(rule.Matches) != 1 || rule.Matches[0].Path.Type != "PathPrefix" {
				t.Errorf("%s rule %d: want one PathPrefix match", m, i)
				continue
			}
			if len(rule.Filters) != 1 || rule.Filters[0].Type != "URLRewrite" || rule.Filters[0].URLRewrite.Hostname == "" {
				t.Errorf("%s rule %d: want one URLRewrite of the hostname", m, i)
				continue
			}
			if len(rule.BackendRefs) != 1 || rule.BackendRefs[0].Name != ingressSvc ||
				rule.BackendRefs[0].Namespace != ingressNS || rule.BackendRefs[0].Port == 0 {
				t.Errorf("%s rule %d: backend %+v, want the Knative ingress %s/%s", m, i, rule.BackendRefs, ingressNS, ingressSvc)
			}
			out = append(out, publicRule{m.Metadata.Name, rule.Matches[0].Path.Value, rule.Filters[0].URLRewrite.Hostname})
		}
	}
	return out
}

// prefixMatches is Gateway API's PathPrefix: element by element, so
// "/orders/remove" matches "/orders/remove/7" but not "/orders/removeItem/7".
func prefixMatches(prefix, path string) bool {
	prefix = strings.TrimSuffix(prefix, "/")
	return prefix == "" || path == prefix || strings.HasPrefix(path, prefix+"/")
}

// route picks the rule a Gateway uses for a path: the longest matching prefix.
func route(rules []publicRule, path string) (publicRule, bool) {
	var best publicRule
	found := false
	for _, r := range rules {
		if prefixMatches(r.prefix, path) && (!found || len(r.prefix) > len(best.prefix)) {
			best, found = r, true
		}
	}
	return best, found
}

// samplePath fills a route pattern's wildcards: "GET /stock/find/{id}" -> "/stock/find/7".
func samplePath(pattern string) string {
	_, path, _ := strings.Cut(pattern, " ")
	return regexp.MustCompile(`\{[^}]+\}`).ReplaceAllString(path, "7")
}

func TestEveryRouteReachesItsService(t *testing.T) {
	rules := publicRules(t)
	services := knativeServices(t)
	seen := map[string]string{}
	for _, r := range rules {
		if other, dup := seen[r.prefix]; dup {
			t.Errorf("prefix %s is routed twice (%s and %s)", r.prefix, other, r.route)
		}
		seen[r.prefix] = r.route
		svc, ok := strings.CutSuffix(r.host, "."+Namespace+".svc.cluster.local")
		if !ok || services[svc] == nil {
			t.Errorf("%s rewrites to %s, which is not the cluster-local host of a Service", r.route, r.host)
		}
	}
	// Which route reaches which Service, per overlay (admin routes only in
	// bench): TestNoPublicWayToEventsOrAdmin.
	// An unknown path under a public prefix still reaches a function of that
	// domain, which answers the API's JSON 404.
	for _, path := range []string{"/stock/nope/1", "/payment/nope", "/orders/nope/1"} {
		if _, ok := route(rules, path); !ok {
			t.Errorf("unknown path %s matches no rule (the gateway's own 404 would not be JSON)", path)
		}
	}
}

// apiDoc is the API contract, docs/API.md, relative to this package.
var apiDoc = filepath.Join("..", "docs", "API.md")

// apiRoutes reads "METHOD /path" pairs from the API tables of API.md.
func apiRoutes(t *testing.T, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("the API contract is missing: %v", err)
	}
	defer f.Close()
	cell := regexp.MustCompile("^\\| ([A-Z ()or]+) `(/[^`]+)` \\|")
	methods := regexp.MustCompile(`\b(GET|POST|PUT|DELETE|PATCH)\b`)
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		m := cell.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		for _, method := range methods.FindAllString(m[1], -1) {
			out = append(out, method+" "+m[2])
		}
	}
	if len(out) == 0 {
		t.Fatalf("no routes parsed from %s", path)
	}
	return out
}

// TestAPIDocumentedRoutesAreOperations: every route API.md promises is an
// operation's route, hence a Service and an HTTPRoute rule.
func TestAPIDocumentedRoutesAreOperations(t *testing.T) {
	var known []string
	for _, op := range operation.All {
		known = append(known, op.Routes...)
	}
	for _, r := range apiRoutes(t, apiDoc) {
		if !slices.Contains(known, r) {
			t.Errorf("API.md route %q is no operation's route", r)
		}
	}
}
