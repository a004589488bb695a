package stack

import (
	"slices"
	"strings"
	"testing"

	"github.com/wdm-knative/webshop/internal/operation"
)

func TestPlan(t *testing.T) {
	tests := []struct {
		grouping  string
		wantNames []string // nil: one process per operation
		wantErr   bool
	}{
		{grouping: "domain", wantNames: []string{"stock", "payment", "order", "saga", "dead-letter"}},
		{grouping: "", wantNames: []string{"stock", "payment", "order", "saga", "dead-letter"}},
		{grouping: "operation"},
		{grouping: "pod", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.grouping, func(t *testing.T) {
			procs, err := Plan(tt.grouping)
			if tt.wantErr {
				if err == nil {
					t.Fatal("want an error")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			served := map[string]string{}
			for _, p := range procs {
				names = append(names, p.Name)
				// FUNCTION must select exactly the process's operations.
				sel, err := operation.Select(p.Function)
				if err != nil || len(sel) != len(p.Operations) {
					t.Errorf("%s: FUNCTION=%q selects %d operations (%v), process has %d", p.Name, p.Function, len(sel), err, len(p.Operations))
				}
				for _, o := range p.Operations {
					if prev, dup := served[o.Name]; dup {
						t.Errorf("%s served by %s and %s", o.Name, prev, p.Name)
					}
					served[o.Name] = p.Name
				}
			}
			for _, o := range operation.All {
				if _, ok := served[o.Name]; !ok {
					t.Errorf("%s served by no process", o.Name)
				}
			}
			if tt.wantNames != nil && !slices.Equal(names, tt.wantNames) {
				t.Errorf("processes %v, want %v", names, tt.wantNames)
			}
			if tt.wantNames == nil && len(names) != len(operation.All) {
				t.Errorf("%d processes, want one per operation (%d)", len(names), len(operation.All))
			}
		})
	}
}

// planned is the process plan of grouping, each process at base URL
// http://<its name>.
func planned(t *testing.T, grouping string) ([]Process, map[string]string) {
	t.Helper()
	procs, err := Plan(grouping)
	if err != nil {
		t.Fatal(err)
	}
	base := map[string]string{}
	for _, p := range procs {
		base[p.Name] = "http://" + p.Name
	}
	return procs, base
}

// Every HTTP operation is routed and every event operation subscribed, to
// the process that serves it.
func TestRouteSettings(t *testing.T) {
	for _, grouping := range []string{GroupByDomain, GroupByOperation} {
		t.Run(grouping, func(t *testing.T) {
			procs, base := planned(t, grouping)
			routes, subscribers := routeSettings(procs, base)
			entries := map[string]string{}
			for _, setting := range []string{routes, subscribers} {
				for _, e := range strings.Split(setting, ",") {
					k, v, _ := strings.Cut(e, "=")
					entries[k] = v
				}
			}
			for _, p := range procs {
				for _, o := range p.Operations {
					if got := entries[o.Name]; got != base[p.Name] {
						t.Errorf("%s -> %q, want %q", o.Name, got, base[p.Name])
					}
					if o.Event() != strings.Contains(","+subscribers, ","+o.Name+"=") {
						t.Errorf("%s: event operation %v, in SUBSCRIBER_URLS %v", o.Name, o.Event(), !o.Event())
					}
				}
			}
		})
	}
}

// Order reaches stock and payment straight at the processes that serve their
// find operations, as it would reach cluster-local Services.
func TestServingURL(t *testing.T) {
	for _, grouping := range []string{GroupByDomain, GroupByOperation} {
		procs, base := planned(t, grouping)
		cases := []struct{ op, wantDomain, wantOperation string }{
			{"stock-find", "http://stock", "http://stock-find"},
			{"payment-find-user", "http://payment", "http://payment-find-user"},
			{"no-such-operation", "", ""},
		}
		for _, c := range cases {
			want := c.wantDomain
			if grouping == GroupByOperation {
				want = c.wantOperation
			}
			if got := servingURL(procs, base, c.op); got != want {
				t.Errorf("%s grouping: servingURL(%s) = %q, want %q", grouping, c.op, got, want)
			}
		}
	}
}
