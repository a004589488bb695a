package phases

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/wdm-knative/webshop/cluster/internal/addons"
	"github.com/wdm-knative/webshop/cluster/internal/kube"
	"github.com/wdm-knative/webshop/cluster/internal/node"
)

// systemNamespaces hold the cluster's own pods.
var systemNamespaces = []string{"kube-system", "traefik", "knative-serving", "knative-eventing"}

// Autoscaler is config-autoscaler for this cluster: windows short enough
// for a test to watch scale to zero (the webhook refuses a stable window
// under 6 s).
var Autoscaler = map[string]string{
	"stable-window":                      "6s",
	"scale-to-zero-grace-period":         "6s",
	"scale-to-zero-pod-retention-period": "0s",
}

func (r *run) values() addons.Values {
	return addons.Values{ClusterDomain: r.layout.ClusterDomain, DNSIP: r.layout.DNSIP(), Images: r.images}
}

// waitDeployments waits until every Deployment in the namespaces is
// Available, and on failure reports the pods that are not, with their logs.
func (r *run) waitDeployments(ctx context.Context, timeout time.Duration, namespaces ...string) error {
	for _, ns := range namespaces {
		if err := r.kube.WaitCondition(ctx, "deployments", ns, "Available", timeout); err != nil {
			return fmt.Errorf("%s: %w\n%s", ns, err, r.kube.PodProblems(ctx, ns))
		}
	}
	return nil
}

func startAddons(ctx context.Context, r *run) error {
	if err := startPolicyEngine(ctx, r); err != nil {
		return err
	}
	// The Gateway API CRDs Traefik's provider is built against, established
	// before Traefik (and its GatewayClass) arrive.
	dir, err := r.builder().ModuleDir(ctx, "traefik", "sigs.k8s.io/gateway-api")
	if err != nil {
		return err
	}
	crds, err := addons.GatewayAPI(dir)
	if err != nil {
		return err
	}
	if err := r.applyDocs(ctx, crds, true); err != nil {
		return err
	}
	for _, name := range []string{"coredns", "traefik"} {
		y, err := addons.Render(name, r.values())
		if err != nil {
			return err
		}
		if err := r.kube.Apply(ctx, y); err != nil {
			return err
		}
	}
	return r.waitDeployments(ctx, 3*time.Minute, "kube-system", "traefik")
}

// startPolicyEngine applies kube-router's RBAC, then starts its network
// policy controller on the node and waits for its health endpoint: from
// then on every NetworkPolicy of the cluster is enforced.
func startPolicyEngine(ctx context.Context, r *run) error {
	y, err := addons.Render("kube-router", r.values())
	if err != nil {
		return err
	}
	if err := r.kube.Apply(ctx, y); err != nil {
		return err
	}
	d := r.layout.PolicyDaemon(node.Bins{KubeRouter: r.bins["kube-router"]})
	if err := r.start(d); err != nil {
		return err
	}
	return r.waitHTTP(ctx, d.Name, d.Ready, time.Minute)
}

func (r *run) knativeSources(ctx context.Context) (addons.KnativeSources, error) {
	b := r.builder()
	var s addons.KnativeSources
	for _, m := range []struct {
		dst  *string
		path string
	}{
		{&s.Serving, "knative.dev/serving"},
		{&s.Eventing, "knative.dev/eventing"},
		{&s.Networking, "knative.dev/networking"},
		{&s.Caching, "knative.dev/caching"},
	} {
		dir, err := b.ModuleDir(ctx, "knative", m.path)
		if err != nil {
			return s, err
		}
		*m.dst = dir
	}
	return s, nil
}

func startKnative(ctx context.Context, r *run) error {
	src, err := r.knativeSources(ctx)
	if err != nil {
		return err
	}
	docs, err := addons.Knative(src, r.koImages(), addons.KnativeConfig{Domain: Domain, Autoscaler: Autoscaler})
	if err != nil {
		return err
	}
	// CRDs first and established, or the objects of their kinds in the same
	// stream find no mapping.
	crds, rest := addons.SplitCRDs(docs)
	if err := r.applyDocs(ctx, crds, true); err != nil {
		return err
	}
	if err := r.applyDocs(ctx, rest, false); err != nil {
		return err
	}
	return r.waitDeployments(ctx, 5*time.Minute, "knative-serving", "knative-eventing")
}

// applyDocs applies objects, and with crds waits until every CRD is
// Established, so that objects of their kinds find a mapping.
func (r *run) applyDocs(ctx context.Context, docs []addons.Doc, crds bool) error {
	y, err := addons.Encode(docs)
	if err != nil {
		return err
	}
	if err := r.kube.Apply(ctx, y); err != nil {
		return err
	}
	if crds {
		_, err = r.kube.Run(ctx, nil, "wait", "--for=condition=Established", "crd", "--all", "--timeout=120s")
	}
	return err
}

// clusterIP is a Service's ClusterIP.
func (r *run) clusterIP(ctx context.Context, ns, name string) (string, error) {
	var svc kube.Object
	if err := r.kube.Get(ctx, &svc, "service", "-n", ns, name); err != nil {
		return "", err
	}
	if svc.Spec.ClusterIP == "" {
		return "", fmt.Errorf("service %s/%s has no ClusterIP", ns, name)
	}
	return svc.Spec.ClusterIP, nil
}

// startForwarders opens the cluster's only doors on the host: the API
// server and Traefik's two entry points, each a port on 127.0.0.1 that a
// forwarder process relays into the namespace.
func startForwarders(ctx context.Context, r *run) error {
	public, err := r.clusterIP(ctx, "traefik", "traefik")
	if err != nil {
		return err
	}
	local, err := r.clusterIP(ctx, "traefik", "traefik-local")
	if err != nil {
		return err
	}
	fwds := []struct {
		name string
		port int
		to   string
	}{
		{"forward-apiserver", r.APIPort, net.JoinHostPort(r.layout.NodeIP, strconv.Itoa(r.layout.APIPort))},
		{"forward-ingress", r.IngressPort, net.JoinHostPort(public, "80")},
		{"forward-ingress-local", r.LocalPort, net.JoinHostPort(local, "80")},
	}
	for _, f := range fwds {
		listen := net.JoinHostPort("127.0.0.1", strconv.Itoa(f.port))
		if _, err := r.procs.Start(f.name, []string{r.Self, "forward", "-netns", r.ns.Name, "-listen", listen, "-to", f.to}, nil); err != nil {
			return err
		}
		err := kube.Poll(ctx, 10*time.Second, 100*time.Millisecond, func(context.Context) (bool, string, error) {
			if !r.procs.Alive(f.name) {
				return false, "", fmt.Errorf("%s exited: %s", f.name, r.procs.Tail(f.name, 10))
			}
			c, err := net.Dial("tcp", listen)
			if err != nil {
				return false, err.Error(), nil
			}
			c.Close()
			return true, "", nil
		})
		if err != nil {
			return err
		}
	}
	return r.writeInfo()
}

// checkReady is the last word: through the forwarded port, the node is
// Ready and every system pod runs.
func checkReady(ctx context.Context, r *run) error {
	host := kube.Client{Kubectl: r.kube.Kubectl, Kubeconfig: r.layout.HostKubeconfig()}
	var pods kube.List
	if err := host.Get(ctx, &pods, "pods", "--all-namespaces"); err != nil {
		return fmt.Errorf("through the forwarded API port: %w", err)
	}
	var bad []string
	for _, p := range pods.Items {
		if p.Status.Phase != "Running" && p.Status.Phase != "Succeeded" {
			bad = append(bad, p.Metadata.Namespace+"/"+p.Metadata.Name+" "+p.Status.Phase)
		}
	}
	if len(bad) > 0 {
		return fmt.Errorf("pods not running: %s\n%s", strings.Join(bad, ", "), r.kube.PodProblems(ctx, systemNamespaces...))
	}
	r.Log.Info("ready", "pods", len(pods.Items))
	return nil
}
