package knative

import (
	"slices"
	"testing"

	networkingv1 "k8s.io/api/networking/v1"
	eventingv1 "knative.dev/eventing/pkg/apis/eventing/v1"

	"github.com/wdm-knative/webshop/internal/operation"
)

// exampleDir is the example consumer of the outcome events, applied beside
// a deployed base.
const exampleDir = "examples/checkout-logger"

// TestExampleConsumer: the example subscribes to an announced type on the
// shop's Broker through its own Trigger and Service, which pass Knative's
// validation, and its pods, in the shop's namespace, are reachable by the
// Broker's dispatchers and Knative's data plane and by nobody else, with the
// shop's own policies applied too.
func TestExampleConsumer(t *testing.T) {
	all := build(t, exampleDir)
	svcs := ofKind(all, "serving.knative.dev/v1", "Service")
	trs := ofKind(all, "eventing.knative.dev/v1", "Trigger")
	if len(svcs) != 1 || len(trs) != 1 {
		t.Fatalf("%d Services and %d Triggers, want one of each", len(svcs), len(trs))
	}
	svc := decodeService(t, svcs[0])
	ctx := servingContext(t)
	svc.SetDefaults(ctx)
	if err := svc.Validate(ctx); err != nil {
		t.Errorf("%s: %v", svcs[0], err)
	}
	if svc.Namespace != Namespace || svc.Labels["networking.knative.dev/visibility"] != "cluster-local" {
		t.Errorf("Service %s/%s must be cluster-local in %s", svc.Namespace, svc.Name, Namespace)
	}
	tr := &eventingv1.Trigger{}
	validateEventing(t, trs[0], tr)
	if tr.Spec.Broker != BrokerName || tr.Namespace != Namespace {
		t.Errorf("Trigger on broker %s/%s, want %s/%s", tr.Namespace, tr.Spec.Broker, Namespace, BrokerName)
	}
	if tr.Spec.Filter == nil || !slices.Contains(operation.Announced, tr.Spec.Filter.Attributes["type"]) {
		t.Errorf("Trigger filter %+v selects no announced type %v", tr.Spec.Filter, operation.Announced)
	}
	if !refersToService(tr.Spec.Subscriber, svc.Name) {
		t.Errorf("Trigger subscriber %+v is not the example's Service", tr.Spec.Subscriber)
	}

	var policies []networkingv1.NetworkPolicy
	for _, m := range ofKind(append(all, baseManifests(t)...), "networking.k8s.io/v1", "NetworkPolicy") {
		var np networkingv1.NetworkPolicy
		decodeStrict(t, m, &np)
		policies = append(policies, np)
	}
	pod := svc.Spec.Template.Labels
	dispatcher := peer{namespace: Namespace, labels: map[string]string{
		"eventing.knative.dev/broker": BrokerName, "eventing.knative.dev/brokerRole": "dispatcher"}}
	cases := []struct {
		name string
		from peer
		want bool
	}{
		{"the Broker's dispatcher delivers", dispatcher, true},
		{"Kourier reaches queue-proxy", peer{namespace: IngressNamespace, labels: map[string]string{"app": "3scale-kourier-gateway"}}, true},
		{"the activator reaches queue-proxy", peer{namespace: "knative-serving", labels: map[string]string{"app": "activator"}}, true},
		{"a stranger pod cannot", peer{namespace: "default", labels: map[string]string{"app": "curl"}, ip: "10.8.0.9"}, false},
		{"the internet cannot", peer{ip: "203.0.113.7"}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			isolated, allowed := admitted(t, policies, Namespace, pod, 8012, c.from)
			if !isolated {
				t.Fatalf("no NetworkPolicy selects the example's pods %v", pod)
			}
			if allowed != c.want {
				t.Errorf("allowed = %v, want %v", allowed, c.want)
			}
		})
	}
}
