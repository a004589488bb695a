//go:build clustershop

package shop

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wdm-knative/webshop/cluster/internal/clustertest"
	"github.com/wdm-knative/webshop/cluster/internal/kube"
	"github.com/wdm-knative/webshop/e2e/consistency"
	"github.com/wdm-knative/webshop/internal/shopclient"
)

// repoRoot is the shop's checkout, two folders up from cluster/shop.
var repoRoot, _ = filepath.Abs("../..")

// TestThroughTheIngress runs, through the real ingress, what the local
// e2e runs against the local gateway: the API walk, the course's
// consistency test, the many-items test with every order checked out
// twice, and the 2024 load test (batch_init, then checkouts); then the
// ledgers' rules. The outcome consumer (knative/examples/checkout-logger)
// is deployed first and must have logged one paid event for each paid
// order of the two consistency runs, and none for a refused one. The admin
// routes (knative/overlays/local-admin) are applied for the API walk and
// the load test, and removed again at the end: batch_init is then refused.
func TestThroughTheIngress(t *testing.T) {
	began := time.Now()
	logger := deployCheckoutLogger(t)

	withAdminRoutes(t)

	t.Run("API walk", func(t *testing.T) {
		out, err := exec.Command("bash", filepath.Join(repoRoot, "scripts/api-walk.sh"), "http://"+info.Ingress).CombinedOutput()
		if err != nil || !strings.Contains(string(out), " passed, 0 failed") {
			t.Fatalf("api walk: %v\n%s", err, out)
		}
	})
	// On this cluster 1000 checkouts at once queue for longer than a
	// client waits (docs/cluster.md): callers that get a 5xx or no answer
	// in time check out again and join the running saga.
	runs := map[string]func(testing.TB, *shopclient.Client, bool) (consistency.Workload, *consistency.Outcome){
		"course consistency":       consistency.Course,
		"many items checked twice": consistency.ManyItemsTwice,
	}
	for _, name := range []string{"course consistency", "many items checked twice"} {
		t.Run(name, func(t *testing.T) {
			w, out := runs[name](t, client, true)
			logger.checkRun(t, w, out)
		})
	}
	t.Run("2024 load test", func(t *testing.T) {
		bin := buildBench(t)
		cpu := watchCPU(t)
		s := bench(t, bin, results(t, "load-2024"), "-workload", "checkout", "-clients", "32", "-duration", "60s",
			"-batch-items", "1000", "-batch-users", "1000", "-batch-orders", "10000")
		cpu.stop(t, s.Checkouts)
		t.Logf("REPORT 2024 load test, 32 clients: %.1f checkouts/s, p50 %.0f ms, p95 %.0f ms, p99 %.0f ms",
			s.CheckoutsPerS, s.Latency.P50Ms, s.Latency.P95Ms, s.Latency.P99Ms)
	})
	t.Run("ledgers", func(t *testing.T) {
		consistency.WaitSettled(t, countIn, time.Minute)
		consistency.NoOrderPaidTwice(t, countIn, began)
	})
}

// withAdminRoutes applies the admin routes (knative/overlays/local-admin)
// until the test ends, and then checks that batch_init is refused again.
func withAdminRoutes(t *testing.T) {
	t.Helper()
	admin := filepath.Join(repoRoot, "knative/overlays/local-admin")
	if _, err := k.Run(context.Background(), nil, "apply", "-k", admin); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if _, err := k.Run(context.Background(), nil, "delete", "-k", admin); err != nil {
			t.Fatal(err)
		}
		waitBatchInit(t, http.StatusNotFound)
	})
	waitBatchInit(t, http.StatusMethodNotAllowed)
}

// waitBatchInit polls a GET of payment's batch_init, which changes
// nothing, until it answers want: 405 (the route reaches payment-batch-init,
// which takes only POST) once the admin routes are served, the API's 404
// once they are gone (the domain's catch-all reaches payment-find-user).
// A POST would reset user "0" each time it got through.
func waitBatchInit(t *testing.T, want int) {
	t.Helper()
	err := kube.Poll(context.Background(), 2*time.Minute, time.Second, func(context.Context) (bool, string, error) {
		code, body, err := clustertest.Request(info.Ingress, http.MethodGet, "", "/payment/batch_init/1/1", "")
		return err == nil && code == want, strings.TrimSpace(string(body)), nil
	})
	if err != nil {
		t.Fatalf("GET /payment/batch_init never answered %d: %v", want, err)
	}
}

// buildBench builds the load client first, so that its build is not
// counted in a run's CPU.
func buildBench(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "bench")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/bench")
	cmd.Dir = filepath.Join(repoRoot, "tools")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build the load client: %v\n%s", err, out)
	}
	return bin
}

// benchSummary is what the tests read of the load client's summary.json.
type benchSummary struct {
	Checkouts     uint64  `json:"checkouts"`
	CheckoutsPerS float64 `json:"checkouts_per_s"`
	Latency       struct {
		P50Ms float64 `json:"p50_ms"`
		P95Ms float64 `json:"p95_ms"`
		P99Ms float64 `json:"p99_ms"`
	} `json:"latency"`
}

// bench runs the project's Go load client (tools/cmd/bench) through the
// ingress, writing into out; it exits non-zero on an unexpected failure
// or an inconsistent audit.
func bench(t *testing.T, bin, out string, args ...string) benchSummary {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"-gateway", "http://" + info.Ingress, "-out", out}, args...)...)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("bench %s: %v", strings.Join(args, " "), err)
	}
	var s benchSummary
	b, err := os.ReadFile(filepath.Join(out, "summary.json"))
	if err == nil {
		err = json.Unmarshal(b, &s)
	}
	if err != nil {
		t.Fatal(err)
	}
	return s
}
