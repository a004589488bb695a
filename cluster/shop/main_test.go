//go:build clustershop

// Package shop tests the shop as deployed on the running cluster (make
// cluster-up cluster-deploy), in the order a user meets it: everything
// Ready, K_SINK where events are sent, nothing public that must not be, a
// checkout from zero across the Broker (cold_test.go); the API walk and the
// consistency tests through the real ingress (consistency_test.go); Locust
// with the pods sampled (load_test.go); pods force-deleted under load
// (faults_test.go); the outcome consumer (outcomes_test.go). Without a
// cluster and the shop on it, it fails; it never skips.
package shop

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"testing"

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
	out, err := k.Run(ctx, nil, "exec", "-n", ns, "webshop-postgres-0", "-c", "postgres", "--",
		"psql", "-U", "postgres", "-d", databases[db], "-tAXc", query)
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(string(bytes.TrimSpace(out)))
}
