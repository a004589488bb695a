package funcdeploy

import (
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

const shopFuncYAML = "../../../func.yaml"

var (
	testImage = "dev.local/webshop/func@sha256:" + strings.Repeat("ab", 32)
	testBuilt = time.Date(2026, 12, 5, 10, 30, 0, 0, time.UTC)
)

func render(t *testing.T, f Func) Service {
	t.Helper()
	s, err := Render(f, Options{Image: testImage, Built: testBuilt,
		LookupEnv: func(string) (string, bool) { return "", false }})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func shopFunc(t *testing.T) Func {
	t.Helper()
	f, err := Read(shopFuncYAML)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// TestShopService holds the Service rendered from the shop's func.yaml to
// what func 1.21 makes of each of its fields.
func TestShopService(t *testing.T) {
	f := shopFunc(t)
	s := render(t, f)
	c := s.Spec.Template.Spec.Containers[0]
	env := map[string]EnvVar{}
	for _, e := range c.Env {
		env[e.Name] = e
	}
	secret := func(name, key string) *ValueFrom {
		return &ValueFrom{SecretKeyRef: &KeyRef{Name: name, Key: key}}
	}
	tmplAnn := s.Spec.Template.Metadata.Annotations
	cases := []struct {
		field     string
		got, want any
	}{
		{"kind", s.APIVersion + " " + s.Kind, "serving.knative.dev/v1 Service"},
		{"name", s.Metadata.Name, f.Name},
		{"namespace", s.Metadata.Namespace, f.Deploy.Namespace},
		{"image", c.Image, testImage},
		{"one container", len(s.Spec.Template.Spec.Containers), 1},
		{"label boson.dev/function", s.Metadata.Labels[LabelFunction], "true"},
		{"label function.knative.dev/name", s.Metadata.Labels[LabelName], "webshop"},
		{"label function.knative.dev/runtime", s.Metadata.Labels[LabelRuntime], "go"},
		{"label count: deploy.labels and func's three", len(s.Metadata.Labels), len(f.Deploy.Labels) + 3},
		{"revision labels are the Service's", s.Spec.Template.Metadata.Labels, s.Metadata.Labels},
		{"no Service annotations (autoscaling ones go on the revision only)", s.Metadata.Annotations, map[string]string(nil)},
		{"min-scale", tmplAnn[AnnotationMinScale], "1"},
		{"max-scale", tmplAnn[AnnotationMaxScale], "10"},
		{"metric", tmplAnn[AnnotationMetric], "concurrency"},
		{"target, as func formats it", tmplAnn[AnnotationTarget], "100.000000"},
		{"utilization, as func formats it", tmplAnn[AnnotationUtilization], "70.000000"},
		{"no other revision annotation", len(tmplAnn), 5},
		{"BUILT first", c.Env[0], EnvVar{Name: "BUILT", Value: "20261205T103000"}},
		{"ADDRESS last", c.Env[len(c.Env)-1], EnvVar{Name: "ADDRESS", Value: "0.0.0.0"}},
		{"env count: BUILT, run.envs, ADDRESS", len(c.Env), len(f.Run.Envs) + 2},
		{"ORDER_DSN", env["ORDER_DSN"].ValueFrom, secret("order-db-app", "uri")},
		{"STOCK_DSN", env["STOCK_DSN"].ValueFrom, secret("stock-db-app", "uri")},
		{"PAYMENT_DSN", env["PAYMENT_DSN"].ValueFrom, secret("payment-db-app", "uri")},
		{"FUNCTION", env["FUNCTION"], EnvVar{Name: "FUNCTION", Value: "all"}},
		{"no envFrom", c.EnvFrom, []EnvFrom(nil)},
		{"requests", c.Resources.Requests, map[string]string{"cpu": "250m", "memory": "128Mi"}},
		{"limits", c.Resources.Limits, map[string]string{"memory": "512Mi"}},
		{"no containerConcurrency", s.Spec.Template.Spec.ContainerConcurrency, (*int64)(nil)},
		{"liveness", c.LivenessProbe, Probe{HTTPGet{Path: f.Deploy.HealthEndpoints.Liveness, Port: 8080}}},
		{"readiness", c.ReadinessProbe, Probe{HTTPGet{Path: f.Deploy.HealthEndpoints.Readiness, Port: 8080}}},
		{"non-root", c.SecurityContext.RunAsNonRoot, true},
		{"no escalation", c.SecurityContext.AllowPrivilegeEscalation, false},
		{"capabilities", c.SecurityContext.Capabilities.Drop, []string{"ALL"}},
		{"seccomp", c.SecurityContext.SeccompProfile.Type, "RuntimeDefault"},
		{"no service account", s.Spec.Template.Spec.ServiceAccountName, ""},
	}
	for _, c := range cases {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("%s: got %#v, want %#v", c.field, c.got, c.want)
		}
	}
	// Every deploy.labels entry and every run.envs entry, in func.yaml's order.
	for _, l := range f.Deploy.Labels {
		if s.Metadata.Labels[l.Key] != l.Value {
			t.Errorf("label %s=%q, func.yaml says %q", l.Key, s.Metadata.Labels[l.Key], l.Value)
		}
	}
	for i, e := range f.Run.Envs {
		got := c.Env[i+1]
		if got.Name != *e.Name {
			t.Errorf("env %d is %s, func.yaml has %s there", i+1, got.Name, *e.Name)
		}
		if !strings.HasPrefix(*e.Value, "{{") && got.Value != *e.Value {
			t.Errorf("%s=%q, func.yaml says %q", got.Name, got.Value, *e.Value)
		}
	}
}

// TestEveryKeyOfShopFuncYAMLIsRendered: each key the shop's func.yaml sets
// is either rendered or, for a stated reason, not the Service's business.
// A key added to func.yaml that is in neither list fails here (and a key
// func.yaml's schema lacks fails Read).
func TestEveryKeyOfShopFuncYAMLIsRendered(t *testing.T) {
	rendered := []string{
		"name", "namespace", "domain", "runtime", "run.envs",
		"deploy.namespace", "deploy.labels", "deploy.annotations",
		"deploy.healthEndpoints.liveness", "deploy.healthEndpoints.readiness",
		"deploy.serviceAccountName",
		"deploy.options.scale.min", "deploy.options.scale.max", "deploy.options.scale.metric",
		"deploy.options.scale.target", "deploy.options.scale.utilization",
		"deploy.options.resources.requests.cpu", "deploy.options.resources.requests.memory",
		"deploy.options.resources.limits.cpu", "deploy.options.resources.limits.memory",
		"deploy.options.resources.limits.concurrency",
	}
	notTheService := map[string]string{
		"specVersion":      "the file's format",
		"created":          "a date func records",
		"invoke":           "chooses the scaffolding: the image's",
		"build.builder":    "the image's",
		"build.buildEnvs":  "the image's (shopimages.Func builds with them)",
		"build.buildpacks": "the image's",
		"registry":         "the push's; the image is given",
		"image":            "the push's; the image is given",
		"deploy.image":     "what func last deployed; the image is given",
	}
	data, err := os.ReadFile(shopFuncYAML)
	if err != nil {
		t.Fatal(err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	var keys []string
	var walk func(prefix string, n *yaml.Node)
	walk = func(prefix string, n *yaml.Node) {
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := prefix+n.Content[i].Value, n.Content[i+1]
			if v.Kind == yaml.MappingNode && !slices.Contains(rendered, k) {
				walk(k+".", v)
				continue
			}
			keys = append(keys, k)
		}
	}
	walk("", doc.Content[0])
	for _, k := range keys {
		if _, ok := notTheService[k]; !ok && !slices.Contains(rendered, k) {
			t.Errorf("func.yaml sets %s, which the renderer neither renders nor knows to leave out", k)
		}
	}
	if len(keys) < 10 {
		t.Fatalf("found only %v in func.yaml", keys)
	}
}

// TestReadRejectsWhatFuncYAMLsSchemaLacks: a key Func does not have (a
// newer func's, or a typo) fails instead of being dropped.
func TestReadRejectsWhatFuncYAMLsSchemaLacks(t *testing.T) {
	for _, doc := range []string{
		"name: a\nfoo: 1\n",
		"name: a\nrun:\n  volumes: []\n",
		"name: a\ndeploy:\n  subscriptions: []\n",
		"name: a\ndeploy:\n  deployer: raw\n",
		"name: a\ndeploy:\n  options:\n    scale:\n      window: 60s\n",
		"name: a\ndeploy:\n  healthEndpoints:\n    startup: /s\n",
	} {
		if _, err := Parse([]byte(doc)); err == nil {
			t.Errorf("Parse accepted %q", doc)
		}
	}
}

func ptr[T any](v T) *T { return &v }

// TestEnvs: func's forms of run.envs.
func TestEnvs(t *testing.T) {
	lookup := func(k string) (string, bool) {
		v, ok := map[string]string{"HOST_X": "x-from-host"}[k]
		return v, ok
	}
	for _, c := range []struct {
		name    string
		in      Env
		want    []EnvVar // between BUILT and ADDRESS
		from    []EnvFrom
		address bool // whether ADDRESS is appended
		fails   bool
	}{
		{"plain", Env{ptr("A"), ptr("1")}, []EnvVar{{Name: "A", Value: "1"}}, nil, true, false},
		{"secret key", Env{ptr("A"), ptr("{{ secret:s:k }}")},
			[]EnvVar{{Name: "A", ValueFrom: &ValueFrom{SecretKeyRef: &KeyRef{"s", "k"}}}}, nil, true, false},
		{"configMap key", Env{ptr("A"), ptr("{{configMap:c:k}}")},
			[]EnvVar{{Name: "A", ValueFrom: &ValueFrom{ConfigMapKeyRef: &KeyRef{"c", "k"}}}}, nil, true, false},
		{"local env", Env{ptr("A"), ptr("{{ env:HOST_X }}")}, []EnvVar{{Name: "A", Value: "x-from-host"}}, nil, true, false},
		{"local env unset", Env{ptr("A"), ptr("{{ env:NOPE }}")}, nil, nil, true, true},
		{"whole secret", Env{nil, ptr("{{ secret:s }}")}, nil, []EnvFrom{{SecretRef: &NameRef{"s"}}}, true, false},
		{"whole configMap", Env{nil, ptr("{{ configMap:c }}")}, nil, []EnvFrom{{ConfigMapRef: &NameRef{"c"}}}, true, false},
		{"own ADDRESS", Env{ptr("ADDRESS"), ptr("10.0.0.1")}, []EnvVar{{Name: "ADDRESS", Value: "10.0.0.1"}}, nil, false, false},
		{"unknown source", Env{ptr("A"), ptr("{{ vault:s:k }}")}, nil, nil, true, true},
		{"no value", Env{ptr("A"), nil}, nil, nil, true, true},
		{"nameless plain", Env{nil, ptr("x")}, nil, nil, true, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, from, err := envs([]Env{c.in}, Options{Built: testBuilt, LookupEnv: lookup})
			if c.fails {
				if err == nil {
					t.Fatalf("accepted %v", c.in)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			want := append([]EnvVar{{Name: "BUILT", Value: "20261205T103000"}}, c.want...)
			if c.address {
				want = append(want, EnvVar{Name: "ADDRESS", Value: "0.0.0.0"})
			}
			if !reflect.DeepEqual(got, want) || !reflect.DeepEqual(from, c.from) {
				t.Errorf("got %+v %+v, want %+v %+v", got, from, want, c.from)
			}
		})
	}
}

// TestRenderRejects: values func refuses on load or deploy.
func TestRenderRejects(t *testing.T) {
	for name, change := range map[string]func(*Func){
		"name not a DNS label": func(f *Func) { f.Name = "Web_Shop" },
		"no namespace":         func(f *Func) { f.Deploy.Namespace = "" },
		"metric":               func(f *Func) { f.Deploy.Options.Scale.Metric = ptr("cpu") },
		"utilization":          func(f *Func) { f.Deploy.Options.Scale.Utilization = ptr(0.0) },
		"min above max":        func(f *Func) { f.Deploy.Options.Scale.Min = ptr(int64(11)) },
		"quantity":             func(f *Func) { f.Deploy.Options.Resources.Limits.Memory = ptr("lots") },
		"label from unset env": func(f *Func) { f.Deploy.Labels = append(f.Deploy.Labels, Label{"k", "{{ env:NOPE }}"}) },
	} {
		f := shopFunc(t)
		change(&f)
		if _, err := Render(f, Options{Image: testImage, LookupEnv: func(string) (string, bool) { return "", false }}); err == nil {
			t.Errorf("%s: rendered", name)
		}
	}
	if _, err := Render(shopFunc(t), Options{}); err == nil {
		t.Error("rendered without an image")
	}
}

// TestNamespaceAndDomain: f.namespace wins over deploy.namespace, as the
// target of a new deploy; a domain becomes func's func.domain label.
func TestNamespaceAndDomain(t *testing.T) {
	f := shopFunc(t)
	f.Namespace, f.Domain = "elsewhere", "example.org"
	s := render(t, f)
	if s.Metadata.Namespace != "elsewhere" || s.Metadata.Labels[LabelDomain] != "example.org" {
		t.Errorf("namespace %q, func.domain %q", s.Metadata.Namespace, s.Metadata.Labels[LabelDomain])
	}
}

// TestYAML: the printed document reads back as the same Service.
func TestYAML(t *testing.T) {
	s := render(t, shopFunc(t))
	out, err := s.YAML()
	if err != nil {
		t.Fatal(err)
	}
	var back Service
	dec := yaml.NewDecoder(strings.NewReader(string(out)))
	dec.KnownFields(true)
	if err := dec.Decode(&back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, s) {
		t.Errorf("read back differs:\n%s", out)
	}
	for _, quoted := range []string{`boson.dev/function: "true"`, `autoscaling.knative.dev/min-scale: "1"`} {
		if !strings.Contains(string(out), quoted) {
			t.Errorf("YAML lacks %s (a string must stay a string for the API):\n%s", quoted, out)
		}
	}
}
