package stack

import (
	"fmt"
	"slices"
	"strings"

	"github.com/wdm-knative/webshop/internal/operation"
)

// Groupings of operations into local processes.
const (
	// GroupByDomain runs one process per domain (order, saga, stock,
	// payment): on 2 cores, few processes mean few connection pools and
	// context switches, and the split still mirrors the per-Service one.
	GroupByDomain = "domain"
	// GroupByOperation runs one process per operation, exactly as the
	// cluster runs one Knative Service per operation.
	GroupByOperation = "operation"
)

// Process is one function process of the local stack.
type Process struct {
	Name       string // component name: "stock", or "stock-find" when grouped by operation
	Function   string // its FUNCTION setting
	Operations []operation.Operation
}

// Plan splits every operation into processes by grouping.
func Plan(grouping string) ([]Process, error) {
	var out []Process
	switch grouping {
	case GroupByDomain, "":
		var domains []operation.Domain
		for _, o := range operation.All {
			if !slices.Contains(domains, o.Domain) {
				domains = append(domains, o.Domain)
			}
		}
		for _, d := range domains {
			ops, err := operation.Select(string(d))
			if err != nil {
				return nil, err
			}
			out = append(out, Process{Name: string(d), Function: string(d), Operations: ops})
		}
	case GroupByOperation:
		for _, o := range operation.All {
			out = append(out, Process{Name: o.Name, Function: o.Name, Operations: []operation.Operation{o}})
		}
	default:
		return nil, fmt.Errorf("unknown grouping %q (want %q or %q)", grouping, GroupByDomain, GroupByOperation)
	}
	return out, nil
}

// routeSettings renders the gateway's ROUTES (every HTTP operation) and the
// broker's SUBSCRIBER_URLS (every event operation) for processes whose base
// URLs are baseURL[process name].
func routeSettings(procs []Process, baseURL map[string]string) (routes, subscribers string) {
	var r, s []string
	for _, p := range procs {
		for _, o := range p.Operations {
			entry := o.Name + "=" + baseURL[p.Name]
			if o.Event() {
				s = append(s, entry)
			}
			if len(o.Routes) > 0 {
				r = append(r, entry)
			}
		}
	}
	return strings.Join(r, ","), strings.Join(s, ",")
}

// servingURL is the base URL of the process that serves operation op.
func servingURL(procs []Process, baseURL map[string]string, op string) string {
	for _, p := range procs {
		if slices.ContainsFunc(p.Operations, func(o operation.Operation) bool { return o.Name == op }) {
			return baseURL[p.Name]
		}
	}
	return ""
}
