//go:build clustershop

package shop

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/wdm-knative/webshop/cluster/internal/kube"
	"github.com/wdm-knative/webshop/cluster/internal/netns"
	"github.com/wdm-knative/webshop/cluster/internal/shopimages"
)

// probe is the smoke test's app (cluster/smoke/smokeapp) running as a plain
// pod, whose POST /probe makes a request from that pod's namespace.
type probe struct {
	namespace, ip string
}

// probeRequest is smokeapp's Probe; probeResult its ProbeResult.
type probeRequest struct {
	Method string            `json:"method"`
	URL    string            `json:"url"`
	Host   string            `json:"host,omitempty"`
	Header map[string]string `json:"header,omitempty"`
	Body   string            `json:"body,omitempty"`
}

type probeResult struct {
	Status int    `json:"status"`
	Error  string `json:"error"`
}

// TestNobodyOutsideForgesAnEvent holds the shop's NetworkPolicies, as
// kube-router's policy controller enforces them on this cluster, to what
// the base promises: from a pod in another namespace, no request reaches a
// function's pod, a cluster-local route (Traefik's cluster-local entry
// point, where every Knative Service of the shop is reached), or the
// Broker's ingress; the connection is refused. Through the public entry
// point every /events/* path and batch_init are refused by the routes. A
// pod in the shop's own namespace is the control: it reaches the
// cluster-local routes and the Broker's ingress (so the refusals are the
// policies', not a broken network), but not a function's pod either.
func TestNobodyOutsideForgesAnEvent(t *testing.T) {
	image := probeImage(t)
	outsider := startProbe(t, "wdm-outsider", image)
	insider := startProbe(t, ns, image)

	var pods kube.List
	if err := k.Get(context.Background(), &pods, "pods", "-n", ns, "-l", "serving.knative.dev/service=saga-sweep"); err != nil {
		t.Fatal(err)
	}
	if len(pods.Items) == 0 || pods.Items[0].Status.PodIP == "" {
		t.Fatal("no running pod of saga-sweep (min-scale 1)")
	}
	fnPod := pods.Items[0].Status.PodIP
	broker, err := k.Run(context.Background(), nil, "get", "broker", "-n", ns, "shop", "-o", "jsonpath={.status.address.url}")
	if err != nil {
		t.Fatal(err)
	}
	const (
		local  = "http://traefik-local.traefik.svc.cluster.local"
		public = "http://traefik.traefik.svc.cluster.local"
	)
	// A forged step: if it got through, its data would be refused as
	// malformed, so even a failing check changes nothing.
	forged := map[string]string{"Ce-Specversion": "1.0", "Ce-Id": "forged-1", "Ce-Source": "/wdm/outsider",
		"Ce-Type": "shop.checkout.requested", "Content-Type": "application/json"}
	harmless := map[string]string{"Ce-Specversion": "1.0", "Ce-Id": "probe-1", "Ce-Source": "/wdm/probe",
		"Ce-Type": "wdm.probe.nobody-subscribes", "Content-Type": "application/json"}
	refused := 0 // the want of a request stopped at the network
	cases := []struct {
		name string
		from probe
		req  probeRequest
		want int
	}{
		{"function pod, queue-proxy", outsider, probeRequest{Method: "POST", URL: "http://" + fnPod + ":8012/events/saga-sweep", Header: forged, Body: "{}"}, refused},
		{"function pod, its container", outsider, probeRequest{Method: "POST", URL: "http://" + fnPod + ":8080/events/saga-sweep", Header: forged, Body: "{}"}, refused},
		{"cluster-local route to an event path", outsider, probeRequest{Method: "POST", URL: local + "/events/payment-debit",
			Host: "payment-debit.webshop.svc.cluster.local", Header: forged, Body: "{}"}, refused},
		{"cluster-local route to batch_init", outsider, probeRequest{Method: "POST", URL: local + "/payment/batch_init/1/1",
			Host: "payment-batch-init.webshop.svc.cluster.local"}, refused},
		{"the Broker's ingress", outsider, probeRequest{Method: "POST", URL: string(broker), Header: forged, Body: "{}"}, refused},
		{"public entry point, an event path", outsider, probeRequest{Method: "POST", URL: public + "/events/payment-debit", Header: forged, Body: "{}"}, http.StatusNotFound},
		{"public entry point, batch_init", outsider, probeRequest{Method: "POST", URL: public + "/payment/batch_init/1/1"}, http.StatusNotFound},
		{"public entry point, a public route (control)", outsider, probeRequest{Method: "GET", URL: public + "/stock/find/no-such-item"}, http.StatusNotFound},
		{"shop namespace: function pod", insider, probeRequest{Method: "POST", URL: "http://" + fnPod + ":8012/events/saga-sweep", Header: forged, Body: "{}"}, refused},
		{"shop namespace: cluster-local route (control)", insider, probeRequest{Method: "GET", URL: local + "/stock/find/no-such-item",
			Host: "stock-find.webshop.svc.cluster.local"}, http.StatusNotFound},
		{"shop namespace: the Broker's ingress (control)", insider, probeRequest{Method: "POST", URL: string(broker), Header: harmless, Body: "{}"}, http.StatusAccepted},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := c.from.do(t, c.req)
			switch {
			case c.want == refused && (got.Status != 0 || got.Error == ""):
				t.Errorf("from %s: %s %s (Host %q): %d %s, want the connection refused", c.from.namespace, c.req.Method, c.req.URL, c.req.Host, got.Status, got.Error)
			case c.want != refused && got.Status != c.want:
				t.Errorf("from %s: %s %s (Host %q): %d %s, want %d", c.from.namespace, c.req.Method, c.req.URL, c.req.Host, got.Status, got.Error, c.want)
			default:
				t.Logf("from %s: %s %s: %d %s", c.from.namespace, c.req.Method, c.req.URL, got.Status, got.Error)
			}
		})
	}
}

// probeImage loads the smoke test's app into the cluster's containerd.
func probeImage(t *testing.T) string {
	t.Helper()
	ctx := context.Background()
	spec, err := shopimages.App(ctx, filepath.Join(repoRoot, "cluster"), info.Cache)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := shopimages.Load(ctx, info, spec)
	if err != nil {
		t.Fatal(err)
	}
	return ref
}

// startProbe runs the probe app as the pod wdm-probe in namespace (made
// first, and deleted at the end, when it is not the shop's).
func startProbe(t *testing.T, namespace, image string) probe {
	t.Helper()
	ctx := context.Background()
	var y bytes.Buffer
	if namespace != ns {
		fmt.Fprintf(&y, "apiVersion: v1\nkind: Namespace\nmetadata: {name: %s}\n---\n", namespace)
	}
	fmt.Fprintf(&y, `apiVersion: v1
kind: Pod
metadata: {name: wdm-probe, namespace: %s, labels: {app: wdm-probe}}
spec:
  containers:
    - name: app
      image: %s
      imagePullPolicy: Never
      env: [{name: MODE, value: record}]
      readinessProbe: {httpGet: {path: /healthz, port: 8080}, periodSeconds: 1}
      resources: {requests: {cpu: 10m, memory: 16Mi}, limits: {memory: 64Mi}}
`, namespace, image)
	if err := k.Apply(ctx, y.Bytes()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if namespace != ns {
			_, _ = k.Run(context.Background(), nil, "delete", "namespace", namespace, "--wait=false")
		} else {
			_, _ = k.Run(context.Background(), nil, "delete", "pod", "-n", namespace, "wdm-probe", "--grace-period=0", "--force", "--wait=false")
		}
	})
	if _, err := k.Run(ctx, nil, "wait", "-n", namespace, "--for=condition=Ready", "pod/wdm-probe", "--timeout=120s"); err != nil {
		t.Fatalf("%v\n%s", err, k.PodProblems(ctx, namespace))
	}
	var p kube.Object
	if err := k.Get(ctx, &p, "pod", "-n", namespace, "wdm-probe"); err != nil {
		t.Fatal(err)
	}
	return probe{namespace: namespace, ip: p.Status.PodIP}
}

// do asks the probe pod to make req, reaching the pod from the node
// (inside the cluster's network namespace).
func (p probe) do(t *testing.T, req probeRequest) probeResult {
	t.Helper()
	body, err := json.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	c := http.Client{Timeout: 15 * time.Second, Transport: &http.Transport{DialContext: netns.Namespace{Name: info.NetNS}.DialContext}}
	resp, err := c.Post("http://"+p.ip+":8080/probe", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatalf("probe pod in %s: %v", p.namespace, err)
	}
	defer resp.Body.Close()
	var res probeResult
	if err := json.NewDecoder(resp.Body).Decode(&res); err != nil {
		t.Fatalf("probe pod in %s: %s: %v", p.namespace, resp.Status, err)
	}
	return res
}
