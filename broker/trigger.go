package broker

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	eventingv1 "knative.dev/eventing/pkg/apis/eventing/v1"
	"knative.dev/eventing/pkg/apis/feature"
	"sigs.k8s.io/yaml"
)

// Errors of trigger loading.
var (
	// ErrFiltersUnsupported rejects spec.filters: eventing-rabbitmq ignores the
	// experimental Subscriptions API filters, so a Trigger using them would
	// route differently in a cluster than its manifest suggests.
	ErrFiltersUnsupported = errors.New("spec.filters is not supported by the RabbitMQ broker; use spec.filter.attributes")
	// ErrInvalidTrigger is a Trigger that Knative's own validation refuses.
	ErrInvalidTrigger = errors.New("invalid trigger")
)

// DeadLetterService is the Knative Service the manifests name as every
// Trigger's deadLetterSink: the dead-letter operation, which the local
// broker reaches through SUBSCRIBER_URLS like any subscriber.
const DeadLetterService = "dead-letter"

// TriggerName names the Trigger that feeds CloudEvents of type eventType to
// an operation: "stock-reserve-checkout-requested" for
// ("stock-reserve", "shop.checkout.requested").
func TriggerName(operation, eventType string) string {
	return operation + "-" + strings.ReplaceAll(strings.TrimPrefix(eventType, "shop."), ".", "-")
}

const (
	triggerAPIVersion = "eventing.knative.dev/v1"
	triggerKind       = "Trigger"
)

// LoadTriggers reads every Trigger from the YAML files (*.yaml, *.yml) in dir,
// not descending into subfolders. Documents of other kinds are skipped, so the
// folder can hold a whole kustomize base.
func LoadTriggers(dir string) ([]eventingv1.Trigger, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("read triggers folder: %w", err)
	}
	var out []eventingv1.Trigger
	for _, e := range entries {
		ext := filepath.Ext(e.Name())
		if e.IsDir() || (ext != ".yaml" && ext != ".yml") {
			continue
		}
		path := filepath.Join(dir, e.Name())
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, err
		}
		ts, err := ParseTriggers(data)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		out = append(out, ts...)
	}
	return out, nil
}

// ParseTriggers decodes the Triggers of a multi-document YAML stream and
// validates each one.
func ParseTriggers(data []byte) ([]eventingv1.Trigger, error) {
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	var out []eventingv1.Trigger
	for {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		if len(bytes.TrimSpace(doc)) == 0 {
			continue
		}
		var head struct {
			APIVersion string `json:"apiVersion"`
			Kind       string `json:"kind"`
		}
		if err := yaml.Unmarshal(doc, &head); err != nil {
			return nil, err
		}
		if head.Kind != triggerKind || head.APIVersion != triggerAPIVersion {
			continue
		}
		var t eventingv1.Trigger
		// Strict: a misspelt field (say "filters" vs "filter") must not be
		// silently dropped from a routing table.
		if err := yaml.UnmarshalStrict(doc, &t); err != nil {
			return nil, fmt.Errorf("trigger: %w", err)
		}
		if err := CheckTrigger(&t); err != nil {
			return nil, err
		}
		out = append(out, t)
	}
}

// validationContext carries Knative's default feature flags, as a cluster
// with an unchanged config-features would (delivery timeouts are on).
var validationContext = func() context.Context {
	flags, err := feature.NewFlagsConfigFromMap(nil)
	if err != nil {
		panic(err) // defaults only: cannot fail
	}
	return feature.ToContext(context.Background(), flags)
}()

// CheckTrigger applies Knative's validation and the RabbitMQ broker's own
// restrictions to one Trigger.
func CheckTrigger(t *eventingv1.Trigger) error {
	if len(t.Spec.Filters) > 0 {
		return fmt.Errorf("trigger %q: %w", t.Name, ErrFiltersUnsupported)
	}
	if t.Name == "" {
		return fmt.Errorf("%w: metadata.name is empty", ErrInvalidTrigger)
	}
	if fe := t.Validate(validationContext); fe != nil {
		return fmt.Errorf("%w %q: %s", ErrInvalidTrigger, t.Name, fe.Error())
	}
	return nil
}

// filterOf returns the attribute filter of a Trigger with the empty-valued
// keys removed: Knative treats an empty value as "any value", which a headers
// binding expresses by not naming the key.
func filterOf(t *eventingv1.Trigger) map[string]string {
	out := map[string]string{}
	if t.Spec.Filter == nil {
		return out
	}
	for k, v := range t.Spec.Filter.Attributes {
		if v != "" {
			out[strings.ToLower(k)] = v
		}
	}
	return out
}
