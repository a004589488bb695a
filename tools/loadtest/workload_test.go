package loadtest

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/wdm-knative/webshop/internal/shopclient"
)

// workloadFile is the mixed workload's one definition, which the locustfile
// reads at start.
const workloadFile = "../../knative/loadtest/workload.json"

// The Go mixed workload is the workload file: the same scenarios, weights,
// steps, routes and parameter ranges.
func TestMixedIsTheWorkloadFile(t *testing.T) {
	b, err := os.ReadFile(workloadFile)
	if err != nil {
		t.Fatal(err)
	}
	var file struct {
		About     string        `json:"about"`
		Scenarios []Scenario    `json:"scenarios"`
		Ops       map[string]Op `json:"ops"`
	}
	d := json.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	if err := d.Decode(&file); err != nil {
		t.Fatalf("%s: %v", workloadFile, err)
	}
	if diff := cmp.Diff(file.Scenarios, MixedScenarios); diff != "" {
		t.Errorf("MixedScenarios (-%s +Go):\n%s", workloadFile, diff)
	}
	if diff := cmp.Diff(file.Ops, MixedOps); diff != "" {
		t.Errorf("MixedOps (-%s +Go):\n%s", workloadFile, diff)
	}
}

// Each scenario, run against the shop in memory, sends its steps' routes in
// order, each with its parameters within their ranges.
func TestMixedScenariosSendTheirSteps(t *testing.T) {
	shop := newFakeShop()
	var mu sync.Mutex
	var sent []string // method and path
	h := shop.handler()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		sent = append(sent, r.Method+" "+r.URL.Path)
		mu.Unlock()
		h.ServeHTTP(w, r)
	}))
	defer srv.Close()
	w := newMixed(1)
	k := &caller{c: shopclient.New(srv.URL, 1)}
	for _, sc := range MixedScenarios {
		t.Run(sc.Name, func(t *testing.T) {
			sent = nil
			s := &session{ctx: t.Context(), k: k, r: rand.New(rand.NewPCG(1, 2)), w: w}
			if err := s.run(sc.Steps); err != nil {
				t.Fatalf("run: %v", err)
			}
			if len(sent) != len(sc.Steps) {
				t.Fatalf("sent %d requests %v for %d steps", len(sent), sent, len(sc.Steps))
			}
			for i, st := range sc.Steps {
				op := MixedOps[st.Op]
				if !matchesRoute(t, op, sent[i]) {
					t.Errorf("step %d (%s) sent %s, want %s %s", i, st.Op, sent[i], op.Method, op.Route)
				}
			}
		})
	}
}

// matchesRoute reports whether request (method and path) is op's route
// with its parameters within their ranges.
func matchesRoute(t *testing.T, op Op, request string) bool {
	t.Helper()
	method, path, _ := strings.Cut(request, " ")
	got, want := strings.Split(path, "/"), strings.Split(op.Route, "/")
	if method != op.Method || len(got) != len(want) {
		return false
	}
	for i := range want {
		name, wild := strings.CutPrefix(want[i], "{")
		if !wild {
			if got[i] != want[i] {
				return false
			}
			continue
		}
		if r, ok := op.Params[strings.TrimSuffix(name, "}")]; ok {
			var v int64
			if err := json.Unmarshal([]byte(got[i]), &v); err != nil || v < r[0] || v > r[1] {
				return false
			}
		} else if got[i] == "" {
			return false
		}
	}
	return true
}
