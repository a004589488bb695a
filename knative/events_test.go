package knative

import (
	"context"
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/labels"
	eventingv1 "knative.dev/eventing/pkg/apis/eventing/v1"
	eventingv1beta2 "knative.dev/eventing/pkg/apis/eventing/v1beta2"
	"knative.dev/eventing/pkg/apis/feature"
	sourcesv1 "knative.dev/eventing/pkg/apis/sources/v1"
	"knative.dev/pkg/apis"
	duckv1 "knative.dev/pkg/apis/duck/v1"

	"github.com/wdm-knative/webshop/internal/operation"
	"github.com/wdm-knative/webshop/schemas"
)

// eventingContext is a create under Knative Eventing's default feature flags.
func eventingContext() context.Context {
	ctx := feature.ToContext(context.Background(), feature.FromContextOrDefaults(context.Background()))
	return apis.WithinCreate(ctx)
}

type validatable interface {
	SetDefaults(context.Context)
	Validate(context.Context) *apis.FieldError
}

func validateEventing(t *testing.T, m manifest, obj validatable) {
	t.Helper()
	decodeStrict(t, m, obj)
	ctx := eventingContext()
	obj.SetDefaults(ctx)
	if err := obj.Validate(ctx); err != nil {
		t.Errorf("%s: Validate: %v", m, err)
	}
}

func brokers(t *testing.T) map[string]*eventingv1.Broker {
	t.Helper()
	out := map[string]*eventingv1.Broker{}
	for _, m := range ofKind(baseManifests(t), "eventing.knative.dev/v1", "Broker") {
		b := &eventingv1.Broker{}
		validateEventing(t, m, b)
		out[b.Name] = b
	}
	if len(out) == 0 {
		t.Fatal("no Broker in the base")
	}
	return out
}

func triggers(t *testing.T) []*eventingv1.Trigger {
	t.Helper()
	var out []*eventingv1.Trigger
	for _, m := range ofKind(baseManifests(t), "eventing.knative.dev/v1", "Trigger") {
		tr := &eventingv1.Trigger{}
		validateEventing(t, m, tr)
		out = append(out, tr)
	}
	return out
}

// refersTo reports whether a destination's ref names a Knative Service.
func refersToService(d duckv1.Destination, name string) bool {
	return d.Ref != nil && d.Ref.Kind == "Service" && d.Ref.APIVersion == "serving.knative.dev/v1" && d.Ref.Name == name
}

func TestBrokerIsRabbitMQWithQuorumQueuesAndDeadLetters(t *testing.T) {
	configs := ofKind(baseManifests(t), "eventing.knative.dev/v1alpha1", "RabbitmqBrokerConfig")
	services := knativeServices(t)
	bs := brokers(t)
	for name, b := range bs {
		t.Run(name, func(t *testing.T) {
			if class := b.Annotations[eventingv1.BrokerClassAnnotationKey]; class != "RabbitMQBroker" {
				t.Errorf("broker class %q, want RabbitMQBroker", class)
			}
			cfg := b.Spec.Config
			if cfg == nil || cfg.Kind != "RabbitmqBrokerConfig" || !slices.Contains(names(configs), cfg.Name) {
				t.Errorf("spec.config %+v does not name a RabbitmqBrokerConfig of the base (%v)", cfg, names(configs))
			}
		})
	}
	// A failed event goes to the Trigger's dead-letter sink, else the Broker's.
	for _, tr := range triggers(t) {
		var sink *duckv1.Destination
		if b := bs[tr.Spec.Broker]; b != nil && b.Spec.Delivery != nil {
			sink = b.Spec.Delivery.DeadLetterSink
		}
		if tr.Spec.Delivery != nil && tr.Spec.Delivery.DeadLetterSink != nil {
			sink = tr.Spec.Delivery.DeadLetterSink
		}
		if sink == nil {
			t.Errorf("Trigger %s: no dead-letter sink on it or its Broker: failed events would be dropped", tr.Name)
			continue
		}
		if sink.Ref == nil || sink.Ref.Kind != "Service" || services[sink.Ref.Name] == nil {
			t.Errorf("Trigger %s: dead-letter sink %+v is not a Knative Service of the base", tr.Name, sink)
		}
	}
}

// TestTriggers: every Trigger routes by exact attributes from an existing
// Broker to an operation's event path, and every type an operation consumes
// reaches it.
func TestTriggers(t *testing.T) {
	bs := brokers(t)
	services := knativeServices(t)
	type route struct{ service, eventType string }
	covered := map[route]bool{}
	for _, tr := range triggers(t) {
		t.Run(tr.Name, func(t *testing.T) {
			if bs[tr.Spec.Broker] == nil {
				t.Errorf("broker %q does not exist", tr.Spec.Broker)
			}
			if len(tr.Spec.Filters) > 0 {
				t.Errorf("spec.filters (CESQL/new filters) used; the RabbitMQ broker binds queues by spec.filter.attributes only")
			}
			if tr.Spec.Filter == nil || len(tr.Spec.Filter.Attributes) == 0 {
				t.Fatalf("no spec.filter.attributes: the Trigger would receive every event")
			}
			eventType := tr.Spec.Filter.Attributes["type"]
			ref := tr.Spec.Subscriber.Ref
			if ref == nil {
				t.Fatalf("subscriber has no ref")
			}
			op, ok := operation.ByName(ref.Name)
			if !ok || !op.Event() {
				t.Fatalf("subscriber %s is not an event operation", ref.Name)
			}
			if !refersToService(tr.Spec.Subscriber, op.Name) || services[op.Name] == nil {
				t.Errorf("subscriber %+v is not the Knative Service %s of the base", ref, op.Name)
			}
			if uri := tr.Spec.Subscriber.URI; uri == nil || uri.Path != op.EventPath {
				t.Errorf("subscriber uri %v, want %s", uri, op.EventPath)
			}
			if !slices.Contains(op.Consumes, eventType) {
				t.Errorf("filters type %q, which %s does not consume (%v)", eventType, op.Name, op.Consumes)
			}
			if tr.Spec.Delivery == nil && bs[tr.Spec.Broker] != nil && bs[tr.Spec.Broker].Spec.Delivery == nil {
				t.Errorf("no spec.delivery on the Trigger or its Broker: no retries")
			}
			if p, ok := tr.Annotations["rabbitmq.eventing.knative.dev/parallelism"]; ok {
				if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 1000 {
					t.Errorf("parallelism %q, want 1..1000", p)
				}
			}
			covered[route{op.Name, eventType}] = true
		})
	}
	for _, op := range operation.All {
		for _, typ := range op.Consumes {
			if !covered[route{op.Name, typ}] {
				t.Errorf("no Trigger delivers %s to %s", typ, op.Name)
			}
		}
	}
}

// eventTypeConstants reads the Type* string constants of internal/operation
// and schemas (where they move): every CloudEvent type the code names.
func eventTypeConstants(t *testing.T) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, dir := range []string{"../internal/operation", "../schemas"} {
		files, err := filepath.Glob(filepath.Join(dir, "*.go"))
		if err != nil {
			t.Fatal(err)
		}
		for _, file := range files {
			if strings.HasSuffix(file, "_test.go") {
				continue
			}
			f, err := parser.ParseFile(token.NewFileSet(), file, nil, 0)
			if err != nil {
				t.Fatal(err)
			}
			for _, decl := range f.Decls {
				gen, ok := decl.(*ast.GenDecl)
				if !ok || gen.Tok != token.CONST {
					continue
				}
				for _, spec := range gen.Specs {
					vs := spec.(*ast.ValueSpec)
					for i, id := range vs.Names {
						if !strings.HasPrefix(id.Name, "Type") || i >= len(vs.Values) {
							continue
						}
						if lit, ok := vs.Values[i].(*ast.BasicLit); ok && lit.Kind == token.STRING {
							v, _ := strconv.Unquote(lit.Value)
							out[f.Name.Name+"."+id.Name] = v
						}
					}
				}
			}
		}
	}
	if len(out) == 0 {
		t.Fatal("found no Type* constants in internal/operation or schemas")
	}
	return out
}

// TestEveryEventTypeHasATrigger: an event type the code names but no Trigger
// selects would be published and silently dropped, unless the shop
// announces it to consumers outside it (operation.Announced), who add the
// Triggers; and then no Trigger of the shop may take it.
func TestEveryEventTypeHasATrigger(t *testing.T) {
	routed := map[string]bool{}
	for _, tr := range triggers(t) {
		if tr.Spec.Filter != nil {
			routed[tr.Spec.Filter.Attributes["type"]] = true
		}
	}
	for name, typ := range eventTypeConstants(t) {
		announced := slices.Contains(operation.Announced, typ)
		if !routed[typ] && !announced {
			t.Errorf("%s (%s) has no Trigger", name, typ)
		}
		if routed[typ] && announced {
			t.Errorf("%s (%s) is announced to outside consumers, yet a Trigger of the shop selects it", name, typ)
		}
	}
}

// TestEveryEventTypeIsRegistered: every event type the code names has one
// EventType for the shop's Broker that passes Knative's validation, whose
// schema is the dataschema its events carry; and no EventType names a type
// the code does not know.
func TestEveryEventTypeIsRegistered(t *testing.T) {
	bs := brokers(t)
	registered := map[string]*eventingv1beta2.EventType{}
	for _, m := range ofKind(baseManifests(t), EventTypeAPIVersion, "EventType") {
		et := &eventingv1beta2.EventType{}
		validateEventing(t, m, et)
		if registered[et.Spec.Type] != nil {
			t.Errorf("two EventTypes for %s", et.Spec.Type)
		}
		registered[et.Spec.Type] = et
		if ref := et.Spec.Reference; ref == nil || ref.Kind != "Broker" || bs[ref.Name] == nil {
			t.Errorf("EventType %s does not name the shop's Broker: %+v", et.Name, ref)
		}
	}
	known := map[string]bool{}
	for name, typ := range eventTypeConstants(t) {
		known[typ] = true
		et := registered[typ]
		switch {
		case et == nil:
			t.Errorf("%s (%s) has no EventType", name, typ)
		case typ == schemas.TypePing:
			if et.Spec.Schema != nil {
				t.Errorf("EventType %s names a schema; the ping has none in schemas/", et.Name)
			}
		case et.Spec.Schema == nil || et.Spec.Schema.String() != schemas.DataSchema(typ):
			t.Errorf("EventType %s: schema %v, want %s (the events' dataschema)", et.Name, et.Spec.Schema, schemas.DataSchema(typ))
		}
	}
	for typ := range registered {
		if !known[typ] {
			t.Errorf("EventType for %s, which no Type constant names", typ)
		}
	}
}

func TestPingSourceDrivesTheSagaSweep(t *testing.T) {
	bs := brokers(t)
	pings := ofKind(baseManifests(t), "sources.knative.dev/v1", "PingSource")
	if len(pings) == 0 {
		t.Fatal("no PingSource: stalled sagas would never be re-driven")
	}
	for _, m := range pings {
		ps := &sourcesv1.PingSource{}
		validateEventing(t, m, ps)
		if ref := ps.Spec.Sink.Ref; ref == nil || ref.Kind != "Broker" || bs[ref.Name] == nil {
			t.Errorf("%s sinks to %+v, want a Broker of the base", m, ps.Spec.Sink)
		}
	}
	sweep, _ := operation.ByName("saga-sweep")
	if !slices.Contains(sweep.Consumes, sourcesv1.PingSourceEventType) {
		t.Errorf("saga-sweep consumes %v, not the PingSource's %s", sweep.Consumes, sourcesv1.PingSourceEventType)
	}
}

func TestSinkBindingGivesEveryOperationKSink(t *testing.T) {
	bs := brokers(t)
	services := knativeServices(t)
	bindings := ofKind(baseManifests(t), "sources.knative.dev/v1", "SinkBinding")
	if len(bindings) != 1 {
		t.Fatalf("%d SinkBindings, want 1", len(bindings))
	}
	sb := &sourcesv1.SinkBinding{}
	validateEventing(t, bindings[0], sb)
	if ref := sb.Spec.Sink.Ref; ref == nil || ref.Kind != "Broker" || bs[ref.Name] == nil {
		t.Errorf("sink %+v, want a Broker of the base", sb.Spec.Sink)
	}
	subj := sb.Spec.Subject
	if subj.APIVersion != "serving.knative.dev/v1" || subj.Kind != "Service" || subj.Selector == nil {
		t.Fatalf("subject %+v, want Knative Services by label selector", subj)
	}
	sel := labels.SelectorFromSet(subj.Selector.MatchLabels)
	for _, op := range operation.All {
		if svc := services[op.Name]; svc == nil || !sel.Matches(labels.Set(svc.Labels)) {
			t.Errorf("SinkBinding does not select %s", op.Name)
		}
	}
}
