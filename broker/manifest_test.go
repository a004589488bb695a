package broker

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"text/template"

	"github.com/google/go-cmp/cmp"
	eventingv1 "knative.dev/eventing/pkg/apis/eventing/v1"
	"sigs.k8s.io/yaml"

	"github.com/wdm-knative/webshop/functions/deadletter"
	"github.com/wdm-knative/webshop/internal/operation"
	"github.com/wdm-knative/webshop/local/testenv"
)

// update rewrites knative/base/triggers.yaml from the operation table:
// go test ./broker -run TestTriggerManifest -update
var update = flag.Bool("update", false, "rewrite knative/base/triggers.yaml from internal/operation")

var (
	triggersFile = filepath.Join("..", "knative", "base", "triggers.yaml")
	brokerFile   = filepath.Join("..", "knative", "base", "broker.yaml")
)

// triggerSpec is one row of the generated manifest.
type triggerSpec struct {
	Name, Operation, Type, Path, Parallelism string
	Retry                                    int
	// DeadLetterURI is the dead-letter operation's path, naming the Trigger
	// (a dead-lettered event does not say which Trigger failed).
	DeadLetterURI string
}

// deliveryPolicy is what the manifest asks of every Trigger except where a
// row says otherwise. Exponential from 0.1 s: the first retries catch a
// cold start or a database failover quickly; ten retries span about three
// minutes before an event is dead-lettered.
const (
	manifestRetry   = 10
	manifestDelay   = "PT0.1S"
	manifestTimeout = "PT30S"
)

// parallelismOf is the worker count per operation: the checkout's hot path
// gets many, the compensations some, the minutely sweep one.
func parallelismOf(op string) string {
	switch op {
	case "stock-reserve", "payment-debit", "saga-step":
		return "32"
	case "saga-sweep", "dead-letter":
		return "1"
	}
	return "8"
}

// retryOf: a missed ping (sweep, pruning) is replaced by the next one a
// minute later.
func retryOf(op string) int {
	if op == "saga-sweep" || op == "dead-letter" {
		return 2
	}
	return manifestRetry
}

// expectedTriggers derives one Trigger per (event operation, consumed type).
func expectedTriggers() []triggerSpec {
	deadLetterOp, ok := operation.ByName(DeadLetterService)
	if !ok {
		panic("no dead-letter operation in internal/operation")
	}
	var out []triggerSpec
	for _, op := range operation.All {
		if !op.Event() {
			continue
		}
		for _, typ := range op.Consumes {
			out = append(out, triggerSpec{
				Name:        TriggerName(op.Name, typ),
				Operation:   op.Name,
				Type:        typ,
				Path:        op.EventPath,
				Parallelism: parallelismOf(op.Name),
				Retry:       retryOf(op.Name),
				DeadLetterURI: deadLetterOp.EventPath + "?" + deadletter.TriggerParam + "=" +
					TriggerName(op.Name, typ),
			})
		}
	}
	return out
}

var manifestTemplate = template.Must(template.New("triggers").Parse(`# Generated from internal/operation by
#   go test ./broker -run TestTriggerManifest -update
# One Trigger per (event operation, consumed CloudEvent type). The local broker
# (broker/, cmd/broker) routes by this same file. Only spec.filter.attributes:
# the RabbitMQ broker ignores spec.filters.
{{- range .}}
---
apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata:
  name: {{.Name}}
  annotations:
    rabbitmq.eventing.knative.dev/parallelism: "{{.Parallelism}}"
spec:
  broker: shop
  filter:
    attributes:
      type: {{.Type}}
  subscriber:
    ref:
      apiVersion: serving.knative.dev/v1
      kind: Service
      name: {{.Operation}}
    uri: {{.Path}}
  delivery:
    retry: {{.Retry}}
    backoffPolicy: exponential
    backoffDelay: ` + manifestDelay + `
    timeout: ` + manifestTimeout + `
    deadLetterSink:
      ref:
        apiVersion: serving.knative.dev/v1
        kind: Service
        name: ` + DeadLetterService + `
      uri: {{.DeadLetterURI}}
{{- end}}
`))

func renderTriggers(t *testing.T) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := manifestTemplate.Execute(&buf, expectedTriggers()); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestTriggerManifest keeps knative/base/triggers.yaml in step with the
// operation table: same Triggers, same routing, same delivery settings.
func TestTriggerManifest(t *testing.T) {
	want := renderTriggers(t)
	got := testenv.Generated(t, triggersFile, want, *update)
	gotTriggers, err := ParseTriggers(got)
	if err != nil {
		t.Fatalf("%s: %v", triggersFile, err)
	}
	wantTriggers, err := ParseTriggers(want)
	if err != nil {
		t.Fatalf("generated manifest: %v", err)
	}
	byName := func(a, b eventingv1.Trigger) int { return strings.Compare(a.Name, b.Name) }
	slices.SortFunc(gotTriggers, byName)
	slices.SortFunc(wantTriggers, byName)
	if diff := cmp.Diff(wantTriggers, gotTriggers); diff != "" {
		t.Errorf("%s drifted from internal/operation (-want +got); run with -update:\n%s", triggersFile, diff)
	}

	// Every Trigger must be routable by the local broker, with every event
	// operation's Service named in the subscriber table.
	subs := map[string]string{DeadLetterService: "http://127.0.0.1:1"}
	for _, op := range operation.All {
		subs[op.Name] = "http://127.0.0.1:1"
	}
	routes, err := routesOf("shop", gotTriggers, subs)
	if err != nil {
		t.Fatal(err)
	}
	if len(routes) != len(expectedTriggers()) {
		t.Errorf("routes = %d, want %d", len(routes), len(expectedTriggers()))
	}
}

// TestTriggerManifestRejects proves the manifest checks can fail: a Trigger
// using spec.filters, or an invalid one, is refused.
func TestTriggerManifestRejects(t *testing.T) {
	const base = `apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata:
  name: x
spec:
  broker: shop
  subscriber:
    ref: {apiVersion: serving.knative.dev/v1, kind: Service, name: stock-reserve}
`
	tests := []struct {
		name string
		yaml string
		want error
	}{
		{"filters", base + "  filters:\n  - exact: {type: shop.checkout.requested}\n", ErrFiltersUnsupported},
		{"no broker", strings.Replace(base, "  broker: shop\n", "", 1), ErrInvalidTrigger},
		{"bad backoff", base + "  delivery: {backoffPolicy: sometimes}\n", ErrInvalidTrigger},
		{"no name", strings.Replace(base, "  name: x\n", "", 1), ErrInvalidTrigger},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseTriggers([]byte(tc.yaml))
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
	}
	t.Run("misspelt field", func(t *testing.T) {
		if _, err := ParseTriggers([]byte(base + "  filterr: {}\n")); err == nil {
			t.Fatal("unknown field accepted")
		}
	})
}

// TestBrokerManifest checks the Broker the Triggers point at.
func TestBrokerManifest(t *testing.T) {
	data, err := os.ReadFile(brokerFile)
	if err != nil {
		t.Fatal(err)
	}
	var b eventingv1.Broker
	if err := yaml.UnmarshalStrict(data, &b); err != nil {
		t.Fatal(err)
	}
	checks := map[string]bool{
		"apiVersion eventing.knative.dev/v1": b.APIVersion == "eventing.knative.dev/v1",
		"kind Broker":                        b.Kind == "Broker",
		"name shop":                          b.Name == "shop",
		"class RabbitMQBroker":               b.Annotations["eventing.knative.dev/broker.class"] == "RabbitMQBroker",
		"config RabbitmqBrokerConfig": b.Spec.Config != nil && b.Spec.Config.Kind == "RabbitmqBrokerConfig" &&
			b.Spec.Config.APIVersion == "eventing.knative.dev/v1alpha1" && b.Spec.Config.Name != "",
	}
	for what, ok := range checks {
		if !ok {
			t.Errorf("%s: want %s", brokerFile, what)
		}
	}
	if fe := b.Validate(t.Context()); fe != nil {
		t.Errorf("%s: %v", brokerFile, fe)
	}
}
