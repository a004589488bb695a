//go:build clustershop

// Package shop tests the shop as deployed on the running cluster (make
// cluster-up cluster-deploy), in the order a user meets it: everything
// Ready, K_SINK where events are sent, nothing public that must not be, a
// checkout from zero across the Broker (cold_test.go); each Service's cold
// start (coldstart_test.go); dead letters and shopctl (deadletter_test.go);
// pods force-deleted under load (faults_test.go); the Service func deploy
// makes (funcdeploy_test.go); the API walk, the consistency tests and the
// 2024 load test through the real ingress, with the outcome consumer
// (ingress_test.go, outcomes_test.go); Locust with the pods sampled
// (load_test.go); the NetworkPolicies (netpol_test.go); a load step
// (step_test.go). Without a cluster and the shop on it, it fails; it never
// skips.
package shop

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wdm-knative/webshop/cluster/internal/clustertest"
	"github.com/wdm-knative/webshop/cluster/internal/kube"
	"github.com/wdm-knative/webshop/cluster/internal/phases"
	"github.com/wdm-knative/webshop/internal/shopclient"
)

const ns = "webshop"

var (
	info phases.Info
	k    kube.Client
	// client calls the public API through the forwarded ingress port.
	client *shopclient.Client
)

func TestMain(m *testing.M) {
	var err error
	if info, k, err = clustertest.Open(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	client = shopclient.New("http://"+info.Ingress, 1024)
	os.Exit(m.Run())
}

// call sends a request to the public API through the real ingress (the
// Gateway on Traefik's web entry point) and decodes a JSON answer.
func call(t *testing.T, method, path string, want int, out any) {
	t.Helper()
	code, body, err := clustertest.Request(info.Ingress, method, "", path, "")
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	if code != want {
		t.Fatalf("%s %s: %d %s, want %d", method, path, code, body, want)
	}
	if out != nil {
		if err := json.Unmarshal(body, out); err != nil {
			t.Fatalf("%s %s: %s: %v", method, path, body, err)
		}
	}
}

// databases are the names the overlay's Postgres gives the shop's databases.
var databases = map[string]string{"order": "orders", "stock": "stock", "payment": "payment"}

// countIn runs a count query with psql in the Postgres pod
// (consistency.Count for the cluster).
func countIn(ctx context.Context, db, query string) (int, error) {
	out, err := psqlIn(ctx, db, query)
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(out)
}

// psqlIn runs statements in one of the shop's databases with psql in the
// Postgres pod, stopping at the first error, and returns what they printed
// (unaligned tuples only).
func psqlIn(ctx context.Context, db string, stmts ...string) (string, error) {
	script := strings.Join(stmts, ";\n") + ";\n"
	out, err := k.Run(ctx, []byte(script), "exec", "-i", "-n", ns, "webshop-postgres-0", "-c", "postgres", "--",
		"psql", "-v", "ON_ERROR_STOP=1", "-U", "postgres", "-d", databases[db], "-tAXq", "-f", "-")
	return strings.TrimSpace(string(out)), err
}

// every calls sample at once and then every interval, until the stop it
// returns is called; stop returns once the last sample has ended.
func every(interval time.Duration, sample func()) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(interval)
		defer tick.Stop()
		for {
			sample()
			select {
			case <-done:
				return
			case <-tick.C:
			}
		}
	}()
	return func() { close(done); wg.Wait() }
}
