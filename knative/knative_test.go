package knative

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"knative.dev/pkg/apis"
	"knative.dev/serving/pkg/apis/autoscaling"
	servingconfig "knative.dev/serving/pkg/apis/config"
	servingv1 "knative.dev/serving/pkg/apis/serving/v1"
	"sigs.k8s.io/yaml"

	"github.com/wdm-knative/webshop/internal/operation"
)

// manifest is one YAML document of a manifest file.
type manifest struct {
	File       string
	Raw        []byte
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Metadata   struct {
		Name        string            `json:"name"`
		Namespace   string            `json:"namespace"`
		Labels      map[string]string `json:"labels"`
		Annotations map[string]string `json:"annotations"`
	} `json:"metadata"`
}

func (m manifest) String() string { return m.File + ": " + m.Kind + " " + m.Metadata.Name }

// readManifests splits a multi-document YAML file; comment-only documents are skipped.
func readManifests(t *testing.T, path string) []manifest {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	return splitManifests(t, path, data)
}

func splitManifests(t *testing.T, name string, data []byte) []manifest {
	t.Helper()
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	var out []manifest
	for {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatalf("%s: split YAML: %v", name, err)
		}
		var m manifest
		if err := yaml.Unmarshal(doc, &m); err != nil {
			t.Fatalf("%s: decode: %v", name, err)
		}
		if m.Kind == "" {
			continue // comments only
		}
		m.File, m.Raw = filepath.Base(name), doc
		out = append(out, m)
	}
}

// kustomization is the part of kustomization.yaml the checks read.
type kustomization struct {
	Namespace string   `json:"namespace"`
	Resources []string `json:"resources"`
	Patches   []struct {
		Path string `json:"path"`
	} `json:"patches"`
	ConfigMapGenerator []struct {
		Files []string `json:"files"`
	} `json:"configMapGenerator"`
}

func readKustomization(t *testing.T, dir string) kustomization {
	t.Helper()
	return readFile[kustomization](t, filepath.Join(dir, "kustomization.yaml"), yaml.Unmarshal)
}

// readFile decodes the YAML (or JSON) file at path with decode:
// yaml.Unmarshal, or yaml.UnmarshalStrict to refuse fields T does not have.
func readFile[T any](t *testing.T, path string, decode func([]byte, any, ...yaml.JSONOpt) error) T {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var v T
	if err := decode(data, &v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return v
}

// baseManifests reads every file base/kustomization.yaml lists.
func baseManifests(t *testing.T) []manifest {
	t.Helper()
	var all []manifest
	for _, res := range readKustomization(t, "base").Resources {
		all = append(all, readManifests(t, filepath.Join("base", res))...)
	}
	return all
}

func ofKind(ms []manifest, apiVersion, kind string) []manifest {
	var out []manifest
	for _, m := range ms {
		if m.APIVersion == apiVersion && m.Kind == kind {
			out = append(out, m)
		}
	}
	return out
}

func names(ms []manifest) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m.Metadata.Name)
	}
	return out
}

func decodeStrict(t *testing.T, m manifest, into any) {
	t.Helper()
	if err := yaml.UnmarshalStrict(m.Raw, into); err != nil {
		t.Fatalf("%s: %v", m, err)
	}
}

// decodeLoose reads the fields a check needs from a resource whose full
// schema (an operator's CRD) the tests do not mirror.
func decodeLoose(t *testing.T, m manifest, into any) {
	t.Helper()
	if err := yaml.Unmarshal(m.Raw, into); err != nil {
		t.Fatalf("%s: %v", m, err)
	}
}

// jobPod is the pod spec of a Job manifest, read loosely.
func jobPod(t *testing.T, m manifest) corev1.PodSpec {
	t.Helper()
	var job batchv1.Job
	decodeLoose(t, m, &job)
	return job.Spec.Template.Spec
}

// servingContext is what the Knative Serving webhook validates a create
// with: the stock config-defaults, config-features and config-autoscaler.
func servingContext(t *testing.T) context.Context {
	t.Helper()
	defaults, err := servingconfig.NewDefaultsConfigFromMap(map[string]string{})
	if err != nil {
		t.Fatal(err)
	}
	features, err := servingconfig.NewFeaturesConfigFromMap(map[string]string{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := servingconfig.ToContext(context.Background(), &servingconfig.Config{
		Defaults: defaults, Features: features,
		Autoscaler: servingconfig.FromContextOrDefaults(context.Background()).Autoscaler,
	})
	return apis.WithinCreate(ctx)
}

func decodeService(t *testing.T, m manifest) *servingv1.Service {
	t.Helper()
	svc := &servingv1.Service{}
	decodeStrict(t, m, svc)
	return svc
}

func knativeServices(t *testing.T) map[string]*servingv1.Service {
	t.Helper()
	out := map[string]*servingv1.Service{}
	for _, m := range ofKind(baseManifests(t), "serving.knative.dev/v1", "Service") {
		svc := decodeService(t, m)
		if _, dup := out[svc.Name]; dup {
			t.Fatalf("Service %s is defined twice", svc.Name)
		}
		out[svc.Name] = svc
	}
	return out
}

func TestGeneratedFilesAreCurrent(t *testing.T) {
	files, err := Generated()
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range files {
		got, err := os.ReadFile(name)
		if err != nil {
			t.Fatalf("%s: %v (run `go run ./knative/gen`)", name, err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s differs from what internal/operation renders: run `go run ./knative/gen`", name)
		}
	}
}

func TestScalingProfilesAreSound(t *testing.T) {
	for name := range scalingByOperation {
		if _, ok := operation.ByName(name); !ok {
			t.Errorf("scaling profile for %q, which is no operation", name)
		}
	}
	for _, op := range operation.All {
		t.Run(op.Name, func(t *testing.T) {
			s := ScalingFor(op)
			if s.MaxScale < 1 || s.MinScale > s.MaxScale {
				t.Errorf("min-scale %d, max-scale %d", s.MinScale, s.MaxScale)
			}
			if s.Target < 1 || s.TimeoutSeconds < 1 || s.DBConns < 1 || s.Why == "" || s.Tier == "" {
				t.Errorf("incomplete profile %+v", s)
			}
			if s.Tier == TierCheckout && s.MinScale < 1 {
				t.Errorf("checkout path scales to zero")
			}
		})
	}
}

func TestEveryServicePassesKnativeValidation(t *testing.T) {
	ctx := servingContext(t)
	for name, svc := range knativeServices(t) {
		t.Run(name, func(t *testing.T) {
			svc.SetDefaults(ctx)
			if err := svc.Validate(ctx); err != nil {
				t.Fatalf("Validate: %v", err)
			}
		})
	}
}

func TestOneServicePerOperation(t *testing.T) {
	services := knativeServices(t)
	clusters := names(ofKind(baseManifests(t), "postgresql.cnpg.io/v1", "Cluster"))
	for name := range services {
		if _, ok := operation.ByName(name); !ok {
			t.Errorf("Service %s is not an operation", name)
		}
	}
	for _, op := range operation.All {
		t.Run(op.Name, func(t *testing.T) {
			svc, ok := services[op.Name]
			if !ok {
				t.Fatalf("no Knative Service for operation %s", op.Name)
			}
			tmpl := svc.Spec.Template
			if len(tmpl.Spec.Containers) != 1 {
				t.Fatalf("%d containers, want 1", len(tmpl.Spec.Containers))
			}
			c := tmpl.Spec.Containers[0]
			if c.Image != Image {
				t.Errorf("image %q, want the one function image %q", c.Image, Image)
			}
			env := map[string]string{}
			secrets := map[string]string{}
			for _, e := range c.Env {
				env[e.Name] = e.Value
				if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
					secrets[e.Name] = e.ValueFrom.SecretKeyRef.Name + "/" + e.ValueFrom.SecretKeyRef.Key
				}
			}
			selected, err := operation.Select(env["FUNCTION"])
			if err != nil || len(selected) != 1 || selected[0].Name != op.Name {
				t.Errorf("FUNCTION=%q selects %v (%v), want exactly %s", env["FUNCTION"], selected, err, op.Name)
			}
			dsn := DSNVariable(op.Domain)
			cluster := DatabaseCluster(op.Domain)
			if secrets[dsn] != AppSecret(cluster)+"/uri" {
				t.Errorf("%s from %q, want secret %s key uri", dsn, secrets[dsn], AppSecret(cluster))
			}
			if !slices.Contains(clusters, cluster) {
				t.Errorf("DSN secret of Postgres cluster %s, which postgres.yaml does not define", cluster)
			}
			if env["DB_MAX_CONNS"] != strconv.Itoa(ScalingFor(op).DBConns) {
				t.Errorf("DB_MAX_CONNS=%q, want %d", env["DB_MAX_CONNS"], ScalingFor(op).DBConns)
			}
			if op.Domain == operation.Order {
				for v, target := range map[string]string{"STOCK_URL": "stock-find", "PAYMENT_URL": "payment-find-user"} {
					if env[v] != InternalURL(target) {
						t.Errorf("%s=%q, want %s", v, env[v], InternalURL(target))
					}
					if _, ok := services[target]; !ok {
						t.Errorf("%s names Service %s, which does not exist", v, target)
					}
				}
			}
			if env["LISTEN_ADDRESS"] != ":"+strconv.Itoa(ContainerPort) {
				t.Errorf("LISTEN_ADDRESS=%q: the kubelet's liveness probe comes to the pod IP on port %d", env["LISTEN_ADDRESS"], ContainerPort)
			}
			if _, ok := env["K_SINK"]; ok {
				t.Errorf("K_SINK set by hand; the SinkBinding injects it")
			}
			if svc.Labels[SinkLabel] != "broker" {
				t.Errorf("label %s missing: the SinkBinding would not give it K_SINK", SinkLabel)
			}
			for probe, want := range map[string]string{"readiness": ReadinessPath, "liveness": LivenessPath} {
				p := c.ReadinessProbe
				if probe == "liveness" {
					p = c.LivenessProbe
				}
				if p == nil || p.HTTPGet == nil {
					t.Errorf("no HTTP %s probe", probe)
				} else if p.HTTPGet.Path != want || p.HTTPGet.Port.IntValue() != ContainerPort {
					t.Errorf("%s probe GET %s on port %s, want %s on %d", probe, p.HTTPGet.Path, p.HTTPGet.Port.String(), want, ContainerPort)
				}
			}
			if c.Resources.Requests.Cpu().IsZero() || c.Resources.Requests.Memory().IsZero() {
				t.Errorf("no CPU/memory requests: %v", c.Resources.Requests)
			}
			s := ScalingFor(op)
			ann := tmpl.Annotations
			want := map[string]string{
				autoscaling.ClassAnnotationKey:    autoscaling.KPA,
				autoscaling.MetricAnnotationKey:   autoscaling.Concurrency,
				autoscaling.TargetAnnotationKey:   strconv.Itoa(s.Target),
				autoscaling.MinScaleAnnotationKey: strconv.Itoa(s.MinScale),
				autoscaling.MaxScaleAnnotationKey: strconv.Itoa(s.MaxScale),
			}
			for k, v := range want {
				if ann[k] != v {
					t.Errorf("annotation %s=%q, want %q", k, ann[k], v)
				}
			}
			if svc.Labels[LabelTier] != string(s.Tier) || svc.Labels[LabelDomain] != string(op.Domain) {
				t.Errorf("labels %v do not carry tier %s and domain %s", svc.Labels, s.Tier, op.Domain)
			}
		})
	}
}

// TestKustomizationsListEveryFile: a manifest that no kustomization lists is
// never deployed; a listed file that is missing breaks the build.
func TestKustomizationsListEveryFile(t *testing.T) {
	for _, dir := range []string{"base", "platform", "observability", "overlays/gke", "overlays/bench", "overlays/local", "overlays/local-admin", "loadtest", exampleDir} {
		t.Run(dir, func(t *testing.T) {
			k := readKustomization(t, dir)
			listed := map[string]bool{}
			for _, r := range k.Resources {
				listed[filepath.Clean(r)] = true
			}
			for _, p := range k.Patches {
				listed[filepath.Clean(p.Path)] = true
			}
			for _, g := range k.ConfigMapGenerator {
				for _, f := range g.Files {
					_, path, ok := strings.Cut(f, "=")
					if !ok {
						path = f
					}
					listed[filepath.Clean(path)] = true
				}
			}
			for ref := range listed {
				if _, err := os.Stat(filepath.Join(dir, ref)); err != nil {
					t.Errorf("kustomization lists %s: %v", ref, err)
				}
			}
			entries, err := os.ReadDir(dir)
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range entries {
				ext := filepath.Ext(e.Name())
				if e.IsDir() || e.Name() == "kustomization.yaml" || (ext != ".yaml" && ext != ".json") {
					continue
				}
				if !listed[e.Name()] {
					t.Errorf("%s/%s is not listed in its kustomization.yaml", dir, e.Name())
				}
			}
		})
	}
}

// TestEveryResourceInTheShopNamespace guards the internal hostnames (and
// the secret references): they assume Namespace.
func TestEveryResourceInTheShopNamespace(t *testing.T) {
	if ns := readKustomization(t, "base").Namespace; ns != Namespace {
		t.Errorf("base namespace %q, want %q", ns, Namespace)
	}
	for _, m := range baseManifests(t) {
		if m.Kind == "Namespace" {
			if m.Metadata.Name != Namespace {
				t.Errorf("%s: want %s", m, Namespace)
			}
			continue
		}
		if m.Metadata.Namespace != "" && m.Metadata.Namespace != Namespace {
			t.Errorf("%s is in namespace %q, want %q", m, m.Metadata.Namespace, Namespace)
		}
	}
}
