package knative

import (
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	servingv1 "knative.dev/serving/pkg/apis/serving/v1"

	"github.com/wdm-knative/webshop/internal/operation"
)

// deployable is a kustomization a user applies, and what it promises.
type deployable struct {
	dir string
	// on is the kustomization this one is applied on top of (its output is
	// checked together with on's), or "".
	on string
	// publicAdmin: the admin routes (batch_init) are on the public host.
	publicAdmin bool
	// gke: the overlay carries the GKE platform pieces (Kourier's policy,
	// the load balancer's policies) and real image references.
	gke bool
	// local: the overlay of the local real cluster (docs/cluster.md):
	// Traefik instead of Kourier, the channel-based broker's shared pods in
	// knative-eventing instead of eventing-rabbitmq's in webshop, and real
	// image references.
	local bool
}

// deployables lists every kustomization that is applied as a whole.
// TestEveryOverlayIsChecked keeps it in step with knative/overlays, so a
// new overlay cannot skip the rules below.
var deployables = []deployable{
	{dir: "base"},
	{dir: "overlays/gke", gke: true},
	{dir: "overlays/bench", publicAdmin: true, gke: true},
	{dir: "overlays/local", local: true},
	{dir: "overlays/local-admin", on: "overlays/local", publicAdmin: true, local: true},
}

// knativeIngress is the Service the public routes forward to: Kourier's
// cluster-local gateway, or Traefik's cluster-local entry point locally.
func (d deployable) knativeIngress() (namespace, service string) {
	if d.local {
		return LocalIngressNamespace, LocalIngressService
	}
	return IngressNamespace, IngressService
}

// publicRules reads the rendered HTTPRoutes' rules.
func (r rendered) publicRules(t *testing.T) []publicRule {
	t.Helper()
	ns, svc := r.knativeIngress()
	return publicRulesOf(t, r.all, ns, svc)
}

func TestEveryOverlayIsChecked(t *testing.T) {
	entries, err := os.ReadDir("overlays")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		dir := filepath.Join("overlays", e.Name())
		if _, err := os.Stat(filepath.Join(dir, "kustomization.yaml")); err != nil {
			continue
		}
		if !slices.ContainsFunc(deployables, func(d deployable) bool { return d.dir == dir }) {
			t.Errorf("%s is not in deployables: its output is never checked", dir)
		}
	}
}

// rendered is one kustomization's output, decoded once for the rules.
type rendered struct {
	deployable
	all      []manifest
	services map[string]*servingv1.Service
	policies []networkingv1.NetworkPolicy
}

func render(t *testing.T, d deployable) rendered {
	t.Helper()
	all := build(t, d.dir)
	if d.on != "" {
		all = append(build(t, d.on), all...)
	}
	r := rendered{deployable: d, all: all, services: map[string]*servingv1.Service{}}
	for _, m := range ofKind(r.all, "serving.knative.dev/v1", "Service") {
		svc := decodeService(t, m)
		r.services[svc.Name] = svc
	}
	for _, m := range ofKind(r.all, "networking.k8s.io/v1", "NetworkPolicy") {
		var np networkingv1.NetworkPolicy
		decodeStrict(t, m, &np)
		r.policies = append(r.policies, np)
	}
	return r
}

// forEachDeployable renders every deployable and runs check on it.
func forEachDeployable(t *testing.T, check func(t *testing.T, r rendered)) {
	for _, d := range deployables {
		t.Run(d.dir, func(t *testing.T) { check(t, render(t, d)) })
	}
}

// served lists the operations a Service's FUNCTION selects.
func served(t *testing.T, svc *servingv1.Service) []operation.Operation {
	t.Helper()
	for _, e := range svc.Spec.Template.Spec.Containers[0].Env {
		if e.Name == "FUNCTION" {
			ops, err := operation.Select(e.Value)
			if err != nil {
				t.Fatalf("Service %s: FUNCTION=%q: %v", svc.Name, e.Value, err)
			}
			return ops
		}
	}
	return nil // not one of ours (the dead-letter sink)
}

// TestNoPublicWayToEventsOrAdmin: whatever overlay is applied, nothing
// outside the cluster reaches an /events/* path (payment-debit trusts the
// amount in the event) and, except in the bench overlay, no admin route.
func TestNoPublicWayToEventsOrAdmin(t *testing.T) {
	forEachDeployable(t, func(t *testing.T, r rendered) {
		// Kourier's public listener serves only Services without the
		// cluster-local label: there must be none.
		for name, svc := range r.services {
			if svc.Labels["networking.knative.dev/visibility"] != "cluster-local" {
				t.Errorf("Knative Service %s is public (no visibility: cluster-local label)", name)
			}
		}
		for _, m := range r.all {
			switch {
			case m.Kind == "Ingress", m.Kind == "DomainMapping":
				t.Errorf("%s: a second way in beside the HTTPRoutes", m)
			case m.APIVersion == "v1" && m.Kind == "Service":
				var s struct {
					Spec struct {
						Type string `json:"type"`
					} `json:"spec"`
				}
				decodeLoose(t, m, &s)
				if s.Spec.Type == "LoadBalancer" || s.Spec.Type == "NodePort" {
					t.Errorf("%s is exposed as %s", m, s.Spec.Type)
				}
			}
		}
		rules := r.publicRules(t)
		if len(rules) == 0 {
			t.Fatal("no public HTTPRoute rules")
		}
		for _, rule := range rules {
			name, ok := strings.CutSuffix(rule.host, "."+Namespace+".svc.cluster.local")
			svc := r.services[name]
			if !ok || svc == nil {
				t.Errorf("%s rewrites %s to %s, not a Service of this overlay", rule.route, rule.prefix, rule.host)
				continue
			}
			for _, op := range served(t, svc) {
				if op.Event() {
					t.Errorf("%s sends %s to %s, which serves event path %s", rule.route, rule.prefix, name, op.EventPath)
				}
				if Admin(op) && !r.publicAdmin {
					t.Errorf("%s sends %s to %s, an admin operation", rule.route, rule.prefix, name)
				}
			}
		}
		for _, op := range operation.All {
			// An event path may fall to a catch-all rule (the paths under
			// no domain): the check above holds that rule's Service to
			// serving no event path, so it answers the API's 404, as a
			// domain's catch-all does for an admin path.
			if op.Event() {
				if rule, ok := route(rules, op.EventPath); ok && rule.host == InternalHost(op.Name) {
					t.Errorf("public path %s reaches %s through %s", op.EventPath, op.Name, rule.route)
				}
			}
			for _, pattern := range op.Routes {
				path := samplePath(pattern)
				rule, ok := route(rules, path)
				reaches := ok && rule.host == InternalHost(op.Name)
				if want := !Admin(op) || r.publicAdmin; reaches != want {
					t.Errorf("%s reaches %s: %v, want %v", path, op.Name, reaches, want)
				}
			}
		}
	})
}

// peer is a connection's source: a pod (namespace and labels) or an address.
type peer struct {
	namespace string
	labels    map[string]string
	ip        string
}

// admitted applies Kubernetes NetworkPolicy semantics to one connection:
// a pod selected by no Ingress policy takes anything; a selected one takes
// what some rule of some selecting policy allows.
func admitted(t *testing.T, policies []networkingv1.NetworkPolicy, ns string, podLabels map[string]string, port int32, from peer) (isolated, allowed bool) {
	t.Helper()
	selector := func(s *metav1.LabelSelector) labels.Selector {
		sel, err := metav1.LabelSelectorAsSelector(s)
		if err != nil {
			t.Fatalf("selector %v: %v", s, err)
		}
		return sel
	}
	for _, p := range policies {
		if p.Namespace != ns || !slices.Contains(p.Spec.PolicyTypes, networkingv1.PolicyTypeIngress) ||
			!selector(&p.Spec.PodSelector).Matches(labels.Set(podLabels)) {
			continue
		}
		isolated = true
		for _, rule := range p.Spec.Ingress {
			portOK := len(rule.Ports) == 0
			for _, pp := range rule.Ports {
				portOK = portOK || pp.Port == nil || pp.Port.IntVal == port
			}
			peerOK := len(rule.From) == 0
			for _, f := range rule.From {
				switch {
				case f.IPBlock != nil:
					peerOK = peerOK || (from.ip != "" && cidrContains(t, f.IPBlock.CIDR, from.ip))
				case from.namespace == "":
					// An address outside the cluster matches only ipBlocks.
				case f.NamespaceSelector != nil:
					nsLabels := labels.Set{"kubernetes.io/metadata.name": from.namespace}
					podOK := f.PodSelector == nil || selector(f.PodSelector).Matches(labels.Set(from.labels))
					peerOK = peerOK || (selector(f.NamespaceSelector).Matches(nsLabels) && podOK)
				case f.PodSelector != nil:
					peerOK = peerOK || (from.namespace == p.Namespace && selector(f.PodSelector).Matches(labels.Set(from.labels)))
				}
			}
			if portOK && peerOK {
				allowed = true
			}
		}
	}
	return isolated, allowed || !isolated
}

// TestNetworkPolicies: who may connect to the function pods, the Broker's
// ingress and Kourier, evaluated on each overlay's rendered policies.
func TestNetworkPolicies(t *testing.T) {
	var (
		internet   = peer{ip: "203.0.113.7"}
		frontEnd   = peer{ip: "35.191.10.20"} // a Google Front End / health checker
		stranger   = peer{namespace: "default", labels: map[string]string{"app": "curl"}, ip: "10.8.0.9"}
		fakeActor  = peer{namespace: "default", labels: map[string]string{"app": "activator"}}
		activator  = peer{namespace: "knative-serving", labels: map[string]string{"app": "activator"}}
		autoscaler = peer{namespace: "knative-serving", labels: map[string]string{"app": "autoscaler"}}
		kourierCtl = peer{namespace: "knative-serving", labels: map[string]string{"app": "net-kourier-controller"}}
		kourier    = peer{namespace: IngressNamespace, labels: map[string]string{"app": "3scale-kourier-gateway"}}
		dispatcher = peer{namespace: Namespace, labels: map[string]string{
			"eventing.knative.dev/broker": "shop", "eventing.knative.dev/brokerRole": "dispatcher"}}
		dlqDispatcher = peer{namespace: Namespace, labels: map[string]string{
			"eventing.knative.dev/broker": "shop", "eventing.knative.dev/brokerRole": "dispatcher-dlq"}}
		collector = peer{namespace: "gmp-system", labels: map[string]string{"app.kubernetes.io/name": "collector"}}
		// The local cluster's data plane (overlays/local): Traefik, and the
		// channel-based broker's shared pods.
		traefik       = peer{namespace: "traefik", labels: map[string]string{"app": "traefik"}}
		mtFilter      = peer{namespace: "knative-eventing", labels: map[string]string{"eventing.knative.dev/brokerRole": "filter"}}
		imcDispatcher = peer{namespace: "knative-eventing", labels: map[string]string{
			"messaging.knative.dev/channel": "in-memory-channel", "messaging.knative.dev/role": "dispatcher"}}
		fakeFilter  = peer{namespace: "default", labels: map[string]string{"eventing.knative.dev/brokerRole": "filter"}}
		pingAdapter = peer{namespace: "knative-eventing", labels: map[string]string{
			"sources.knative.dev/role": "adapter", "eventing.knative.dev/source": "ping-source-controller"}}
	)
	forEachDeployable(t, func(t *testing.T, r rendered) {
		svc := r.services["order-checkout"]
		if svc == nil {
			t.Fatal("no order-checkout Service")
		}
		function := svc.Spec.Template.Labels // every function pod's labels
		shopPod := peer{namespace: Namespace, labels: function}
		brokers := ofKind(r.all, "eventing.knative.dev/v1", "Broker")
		if len(brokers) != 1 {
			t.Fatalf("%d Brokers", len(brokers))
		}
		// eventing-rabbitmq's IngressLabels.
		ingress := map[string]string{"eventing.knative.dev/broker": brokers[0].Metadata.Name, "eventing.knative.dev/brokerRole": "ingress"}
		ingressNS := Namespace
		gateway := kourier.labels
		knativeIngress, deliverer, dlqDeliverer := kourier, dispatcher, dlqDispatcher
		if r.local {
			// The channel-based broker's one ingress Deployment
			// (mt-broker-ingress), shared by every Broker.
			ingress, ingressNS = map[string]string{"eventing.knative.dev/brokerRole": "ingress"}, "knative-eventing"
			knativeIngress, deliverer, dlqDeliverer = traefik, mtFilter, imcDispatcher
		}
		cases := []struct {
			name      string
			ns        string
			pod       map[string]string
			port      int32
			from      peer
			want, gke bool
			// local: only on the local overlay; notLocal: never there (GKE's
			// Managed Prometheus, eventing-rabbitmq's per-Broker pods).
			local, notLocal bool
		}{
			{name: "a stranger pod cannot POST an event to a function", ns: Namespace, pod: function, port: 8012, from: stranger},
			{name: "the internet cannot reach a function pod", ns: Namespace, pod: function, port: 8012, from: internet},
			{name: "a shop pod cannot bypass the Knative ingress", ns: Namespace, pod: function, port: 8012, from: shopPod},
			{name: "labels alone grant nothing in another namespace", ns: Namespace, pod: function, port: 8012, from: fakeActor},
			{name: "the activator reaches queue-proxy", ns: Namespace, pod: function, port: 8012, from: activator, want: true},
			{name: "the autoscaler scrapes queue-proxy", ns: Namespace, pod: function, port: 9090, from: autoscaler, want: true},
			{name: "the Knative ingress reaches queue-proxy", ns: Namespace, pod: function, port: 8012, from: knativeIngress, want: true},
			{name: "a dispatcher delivers an event", ns: Namespace, pod: function, port: 8012, from: deliverer, want: true},
			{name: "a dead-letter dispatcher delivers", ns: Namespace, pod: function, port: 8012, from: dlqDeliverer, want: true},
			{name: "the metrics collector scrapes /metrics", ns: Namespace, pod: function, port: ContainerPort, from: collector, want: true, notLocal: true},
			{name: "the metrics collector gets only the metrics port", ns: Namespace, pod: function, port: 8012, from: collector},
			{name: "a function publishes to the broker", ns: ingressNS, pod: ingress, port: 8080, from: shopPod, want: true},
			{name: "a dispatcher publishes a reply", ns: ingressNS, pod: ingress, port: 8080, from: deliverer, want: true},
			{name: "the PingSource adapter sends the sweep's ping", ns: ingressNS, pod: ingress, port: 8080, from: pingAdapter, want: true},
			{name: "a stranger pod cannot publish", ns: ingressNS, pod: ingress, port: 8080, from: stranger},
			{name: "the internet cannot publish", ns: ingressNS, pod: ingress, port: 8080, from: internet},
			{name: "Kourier is no way in on the local cluster", ns: Namespace, pod: function, port: 8012, from: kourier, local: true},
			{name: "a pod labelled as the filter elsewhere cannot publish", ns: ingressNS, pod: ingress, port: 8080, from: fakeFilter, local: true},
			{name: "a pod labelled as the filter elsewhere cannot deliver", ns: Namespace, pod: function, port: 8012, from: fakeFilter, local: true},
			{name: "the load balancer reaches Kourier", ns: IngressNamespace, pod: gateway, port: 8081, from: frontEnd, want: true, gke: true},
			{name: "the internet cannot reach Kourier directly", ns: IngressNamespace, pod: gateway, port: 8080, from: internet, gke: true},
			{name: "a stranger pod cannot reach Kourier", ns: IngressNamespace, pod: gateway, port: 8081, from: stranger, gke: true},
			{name: "a shop pod reaches a cluster-local Service", ns: IngressNamespace, pod: gateway, port: 8081, from: shopPod, want: true, gke: true},
			{name: "net-kourier's prober reaches the gateway", ns: IngressNamespace, pod: gateway, port: 8081, from: kourierCtl, want: true, gke: true},
		}
		for _, c := range cases {
			if (c.gke && !r.gke) || (c.local && !r.local) || (c.notLocal && r.local) {
				continue
			}
			t.Run(c.name, func(t *testing.T) {
				isolated, allowed := admitted(t, r.policies, c.ns, c.pod, c.port, c.from)
				if !isolated {
					t.Fatalf("no NetworkPolicy selects pods %v in %s: everything may connect", c.pod, c.ns)
				}
				if allowed != c.want {
					t.Errorf("allowed = %v, want %v", allowed, c.want)
				}
			})
		}
	})
}

func cidrContains(t *testing.T, cidr, ip string) bool {
	t.Helper()
	_, block, err := net.ParseCIDR(cidr)
	if err != nil {
		t.Fatalf("ipBlock %q: %v", cidr, err)
	}
	return block.Contains(net.ParseIP(ip))
}
