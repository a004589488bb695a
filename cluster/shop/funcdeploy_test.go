//go:build clustershop

package shop

import (
	"context"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wdm-knative/webshop/cluster/internal/clustertest"
	"github.com/wdm-knative/webshop/cluster/internal/funcdeploy"
	"github.com/wdm-knative/webshop/cluster/internal/kube"
	"github.com/wdm-knative/webshop/cluster/internal/shopimages"
)

// TestFuncDeployJoinsTheShop deploys what `func deploy` makes of func.yaml
// (docs/func-deploy.md): the image func's Go scaffolding builds from the
// root package, and the Knative Service func 1.21's deployer creates for
// it. It must join the shop as func.yaml says: Ready, K_SINK injected by
// the SinkBinding, its databases reached through the Secrets, a checkout
// it serves crossing the Broker to the per-operation Services, and no
// public route to it. It is deleted afterwards.
func TestFuncDeployJoinsTheShop(t *testing.T) {
	ctx := context.Background()
	file := filepath.Join(repoRoot, "func.yaml")
	spec, err := shopimages.Func(ctx, file, info.Cache)
	if err != nil {
		t.Fatal(err)
	}
	image, err := shopimages.Pin(ctx, info, spec)
	if err != nil {
		t.Fatal(err)
	}
	f, err := funcdeploy.Read(file)
	if err != nil {
		t.Fatal(err)
	}
	svc, err := funcdeploy.Render(f, funcdeploy.Options{Image: image})
	if err != nil {
		t.Fatal(err)
	}
	y, err := svc.YAML()
	if err != nil {
		t.Fatal(err)
	}
	name, namespace := svc.Metadata.Name, svc.Metadata.Namespace
	start := time.Now()
	if err := k.Apply(ctx, y); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if _, err := k.Run(context.Background(), nil, "delete", "ksvc", "-n", namespace, name, "--wait=true"); err != nil {
			t.Error(err)
		}
	})
	var ks kube.Object
	err = kube.Poll(ctx, 3*time.Minute, 2*time.Second, func(ctx context.Context) (bool, string, error) {
		if err := k.Get(ctx, &ks, "ksvc", "-n", namespace, name); err != nil {
			return false, err.Error(), nil
		}
		c := ks.Cond("Ready")
		return c.Status == "True", c.Reason + " " + c.Message, nil
	})
	if err != nil {
		t.Fatalf("%s never Ready: %v\n%s", name, err, k.PodProblems(ctx, namespace))
	}
	t.Logf("REPORT func deploy: %s (%s) Ready %s after the apply, at %s", name, image, time.Since(start).Round(time.Second), ks.Status.URL)

	t.Run("K_SINK", func(t *testing.T) {
		var l ksvcList
		if err := k.Get(ctx, &l, "ksvc", "-n", namespace, "--field-selector", "metadata.name="+name); err != nil {
			t.Fatal(err)
		}
		sink := ""
		for _, s := range l.Items {
			for _, e := range s.Spec.Template.Spec.Containers[0].Env {
				if e.Name == "K_SINK" {
					sink = e.Value
				}
			}
		}
		if !strings.Contains(sink, "broker-ingress") {
			t.Errorf("K_SINK=%q, want the broker's ingress", sink)
		}
	})

	host := name + "." + namespace + ".svc.cluster.local"
	viaFunc := func(t *testing.T, method, path string, want int) {
		t.Helper()
		code, body, err := clustertest.Request(info.IngressLocal, method, host, path, "")
		if err != nil || code != want {
			t.Fatalf("%s %s on %s: %d %s %v, want %d", method, path, host, code, body, err, want)
		}
	}
	t.Run("databases and a checkout through the Broker", func(t *testing.T) {
		viaFunc(t, http.MethodGet, "/health/readiness", http.StatusOK)
		b := newBasket(t, 4, 3, 50, 2)
		it, u := b.item, b.user

		viaFunc(t, http.MethodGet, "/stock/find/"+it.ID, http.StatusOK)         // the stock database
		viaFunc(t, http.MethodGet, "/payment/find_user/"+u.ID, http.StatusOK)   // the payment database
		viaFunc(t, http.MethodPost, "/orders/checkout/"+b.order, http.StatusOK) // the order database, and the saga across the Broker

		var after user
		call(t, http.MethodGet, "/payment/find_user/"+u.ID, http.StatusOK, &after)
		var left item
		call(t, http.MethodGet, "/stock/find/"+it.ID, http.StatusOK, &left)
		if after.Credit != 50-2*4 || left.Stock != 3-2 {
			t.Errorf("after the checkout through %s: credit %d (want 42), stock %d (want 1)", name, after.Credit, left.Stock)
		}
	})

	t.Run("no public route", func(t *testing.T) {
		if !strings.HasSuffix(ks.Status.URL, ".svc.cluster.local") {
			t.Errorf("%s's URL %s is not cluster-local", name, ks.Status.URL)
		}
		// Knative's ingress for it has only cluster-local rules.
		var ing struct {
			Spec struct {
				Rules []struct {
					Hosts      []string `json:"hosts"`
					Visibility string   `json:"visibility"`
				} `json:"rules"`
			} `json:"spec"`
		}
		if err := k.Get(ctx, &ing, "ingresses.networking.internal.knative.dev", "-n", namespace, name); err != nil {
			t.Fatal(err)
		}
		for _, r := range ing.Spec.Rules {
			if r.Visibility != "ClusterLocal" {
				t.Errorf("%s's KIngress has a %s rule for %v", name, r.Visibility, r.Hosts)
			}
		}
		// Its public host name reaches nothing of it. A GET of batch_init
		// tells who answers without changing anything: the webshop Service
		// (FUNCTION=all) serves batch_init and answers 405, while the public
		// routes reach no Service that serves it and answer the API's 404.
		public := name + "." + namespace + "." + info.Domain
		code, body, err := clustertest.Request(info.Ingress, http.MethodGet, public, "/payment/batch_init/1/1", "")
		if err != nil || code != http.StatusNotFound {
			t.Errorf("GET /payment/batch_init/1/1 through the public entry point with Host %s: %d %s %v, want 404", public, code, body, err)
		}
		viaFunc(t, http.MethodGet, "/payment/batch_init/1/1", http.StatusMethodNotAllowed) // the same request does reach it inside
	})
}
