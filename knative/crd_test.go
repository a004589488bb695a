package knative

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"k8s.io/apiextensions-apiserver/pkg/apis/apiextensions"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	structuralschema "k8s.io/apiextensions-apiserver/pkg/apiserver/schema"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/cel"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/defaulting"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/pruning"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/validation"
	utiljson "k8s.io/apimachinery/pkg/util/json"
	"k8s.io/apimachinery/pkg/util/validation/field"
	celconfig "k8s.io/apiserver/pkg/apis/cel"
	"sigs.k8s.io/yaml"
)

// crdSource is a CRD file inside a Go module the module proxy serves, at
// the version of the operator docs/deploying-gke.md installs. sum is the
// module's go.sum hash, checked against what `go mod download` fetched.
type crdSource struct {
	module, version, sum, file string
}

var crdSources = []crdSource{
	{"github.com/cloudnative-pg/cloudnative-pg", "v1.24.1", "h1:U1ETvJXvJzv3wpsfuL3RvpyNTb9273etXvYAOE0CgFk=",
		"config/crd/bases/postgresql.cnpg.io_clusters.yaml"},
	{"github.com/rabbitmq/cluster-operator/v2", "v2.11.0", "h1:t1s8n1HLdYk52ZDv4FzRntm/iv2w61l1nJKSXzn9Iy8=",
		"config/crd/bases/rabbitmq.com_rabbitmqclusters.yaml"},
	{"sigs.k8s.io/gateway-api", "v1.1.0", "h1:DsLDXCi6jR+Xz8/xd0Z1PYl2Pn0TyaFMOPPZIj4inDM=",
		"config/crd/standard/gateway.networking.k8s.io_gateways.yaml"},
	{"sigs.k8s.io/gateway-api", "v1.1.0", "h1:DsLDXCi6jR+Xz8/xd0Z1PYl2Pn0TyaFMOPPZIj4inDM=",
		"config/crd/standard/gateway.networking.k8s.io_httproutes.yaml"},
	{"sigs.k8s.io/gateway-api", "v1.1.0", "h1:DsLDXCi6jR+Xz8/xd0Z1PYl2Pn0TyaFMOPPZIj4inDM=",
		"config/crd/standard/gateway.networking.k8s.io_referencegrants.yaml"},
	{"github.com/GoogleCloudPlatform/prometheus-engine", "v0.13.0", "h1:k4YC675NylgCw3e8i4h6hnPmrZm/4bJDjg6ew1hW2e0=",
		"charts/operator/crds/monitoring.googleapis.com_podmonitorings.yaml"},
}

// notByCRD is every other kind the overlays render, and how it is checked
// instead. A kind in neither list fails TestCustomResourcesMatchTheirCRDs.
var notByCRD = map[string]string{
	"serving.knative.dev/v1 Service":         "Knative: SetDefaults + Validate of knative.dev/serving",
	"eventing.knative.dev/v1 Broker":         "Knative: SetDefaults + Validate of knative.dev/eventing",
	"eventing.knative.dev/v1 Trigger":        "Knative: SetDefaults + Validate of knative.dev/eventing",
	"sources.knative.dev/v1 SinkBinding":     "Knative: SetDefaults + Validate of knative.dev/eventing",
	"sources.knative.dev/v1 PingSource":      "Knative: SetDefaults + Validate of knative.dev/eventing",
	"eventing.knative.dev/v1beta2 EventType": "Knative: SetDefaults + Validate of knative.dev/eventing",
	"v1 Namespace":                           "built in: no CRD",
	"v1 ConfigMap":                           "built in: no CRD",
	"batch/v1 Job":                           "built in: strict decoding into k8s.io/api batch/v1",
	"networking.k8s.io/v1 NetworkPolicy":     "built in: strict decoding into k8s.io/api networking/v1",
	"apps/v1 StatefulSet":                    "built in: strict decoding into k8s.io/api apps/v1 (TestLocalOverlay)",
	"v1 Service":                             "built in: strict decoding into k8s.io/api core/v1 (TestLocalOverlay)",
	"v1 Secret":                              "built in: strict decoding into k8s.io/api core/v1 (TestLocalOverlay)",
	"eventing.knative.dev/v1alpha1 RabbitmqBrokerConfig": "CRD not to be had: the module proxy refuses knative.dev/eventing-rabbitmq " +
		"(403); strict decoding into a mirror of its spec",
	"networking.gke.io/v1 HealthCheckPolicy": "CRD not to be had: GKE installs it, no module the proxy serves holds it " +
		"(gke-networking-api has none, gke-gateway-api is refused); strict decoding into a mirror",
	"networking.gke.io/v1 GCPBackendPolicy": "CRD not to be had: as HealthCheckPolicy",
}

// crdSchema is one served version of a CRD, ready to validate with.
type crdSchema struct {
	source     crdSource
	internal   *apiextensions.JSONSchemaProps
	structural *structuralschema.Structural
}

var (
	crdOnce    sync.Once
	crdSchemas map[string]crdSchema // "group/version Kind"
	crdErr     error
)

// moduleDir downloads a module through the module proxy (or finds it in the
// module cache) and checks its hash.
func moduleDir(src crdSource) (string, error) {
	out, err := exec.Command("go", "mod", "download", "-json", src.module+"@"+src.version).Output()
	if err != nil {
		return "", fmt.Errorf("go mod download %s@%s: %w", src.module, src.version, err)
	}
	var info struct{ Dir, Sum, Error string }
	if err := json.Unmarshal(out, &info); err != nil || info.Error != "" {
		return "", fmt.Errorf("go mod download %s@%s: %v %s", src.module, src.version, err, info.Error)
	}
	if info.Sum != src.sum {
		return "", fmt.Errorf("%s@%s has hash %s, want %s", src.module, src.version, info.Sum, src.sum)
	}
	return info.Dir, nil
}

func loadCRDs() (map[string]crdSchema, error) {
	out := map[string]crdSchema{}
	for _, src := range crdSources {
		dir, err := moduleDir(src)
		if err != nil {
			return nil, err
		}
		data, err := os.ReadFile(filepath.Join(dir, src.file))
		if err != nil {
			return nil, err
		}
		var crd apiextensionsv1.CustomResourceDefinition
		if err := yaml.Unmarshal(data, &crd); err != nil {
			return nil, fmt.Errorf("%s: %w", src.file, err)
		}
		for _, v := range crd.Spec.Versions {
			if !v.Served || v.Schema == nil {
				continue
			}
			internal := &apiextensions.JSONSchemaProps{}
			if err := apiextensionsv1.Convert_v1_JSONSchemaProps_To_apiextensions_JSONSchemaProps(v.Schema.OpenAPIV3Schema, internal, nil); err != nil {
				return nil, fmt.Errorf("%s %s: %w", src.file, v.Name, err)
			}
			structural, err := structuralschema.NewStructural(internal)
			if err != nil {
				return nil, fmt.Errorf("%s %s: %w", src.file, v.Name, err)
			}
			out[crd.Spec.Group+"/"+v.Name+" "+crd.Spec.Names.Kind] = crdSchema{src, internal, structural}
		}
	}
	return out, nil
}

// validateAgainstCRD does what the API server does with a create of a
// custom resource: defaulting, then rejecting fields the schema does not
// know (which the server would silently drop), OpenAPI schema validation,
// and the CRD's CEL rules (x-kubernetes-validations).
func validateAgainstCRD(m manifest, s crdSchema) field.ErrorList {
	data, err := yaml.YAMLToJSON(m.Raw)
	if err != nil {
		return field.ErrorList{field.Invalid(nil, m.String(), err.Error())}
	}
	// The API server's decoder: whole numbers become int64, as the CEL
	// rules expect.
	var obj map[string]any
	if err := utiljson.Unmarshal(data, &obj); err != nil {
		return field.ErrorList{field.Invalid(nil, m.String(), err.Error())}
	}
	defaulting.Default(obj, s.structural)
	var errs field.ErrorList
	pruned := runtimeCopy(obj)
	for _, path := range pruning.PruneWithOptions(pruned, s.structural, true, structuralschema.UnknownFieldPathOptions{TrackUnknownFieldPaths: true}) {
		errs = append(errs, field.Invalid(field.NewPath(path), "", "unknown field: the API server would drop it"))
	}
	validator, _, err := validation.NewSchemaValidator(s.internal)
	if err != nil {
		return append(errs, field.InternalError(nil, err))
	}
	errs = append(errs, validation.ValidateCustomResource(nil, obj, validator)...)
	celErrs, _ := cel.NewValidator(s.structural, true, celconfig.PerCallLimit).
		Validate(context.Background(), nil, s.structural, obj, nil, celconfig.RuntimeCELCostBudget)
	return append(errs, celErrs...)
}

// runtimeCopy deep-copies decoded JSON (pruning edits in place).
func runtimeCopy(obj map[string]any) map[string]any {
	data, _ := json.Marshal(obj)
	var out map[string]any
	_ = utiljson.Unmarshal(data, &out)
	return out
}

// TestCustomResourcesMatchTheirCRDs validates every custom resource that is
// not a Knative one, in every overlay, against the OpenAPI schema and CEL
// rules of its CRD, taken from the operator's Go module.
func TestCustomResourcesMatchTheirCRDs(t *testing.T) {
	crdOnce.Do(func() { crdSchemas, crdErr = loadCRDs() })
	if crdErr != nil {
		t.Fatalf("CRDs: %v", crdErr)
	}
	forEachDeployable(t, func(t *testing.T, r rendered) {
		validated := 0
		for _, m := range r.all {
			kind := m.APIVersion + " " + m.Kind
			s, ok := crdSchemas[kind]
			if !ok {
				if _, known := notByCRD[kind]; !known {
					t.Errorf("%s: no CRD and no other check for %s", m, kind)
				}
				continue
			}
			validated++
			for _, err := range validateAgainstCRD(m, s) {
				t.Errorf("%s (CRD from %s@%s): %v", m, s.source.module, s.source.version, err)
			}
		}
		if validated == 0 {
			t.Error("no resource was validated against a CRD")
		}
	})
}

// TestCRDValidationRejectsWhatTheServerWould: the validation above can fail.
func TestCRDValidationRejectsWhatTheServerWould(t *testing.T) {
	crdOnce.Do(func() { crdSchemas, crdErr = loadCRDs() })
	if crdErr != nil {
		t.Fatalf("CRDs: %v", crdErr)
	}
	cases := []struct {
		name, kind, doc, want string
	}{
		{"unknown field", "rabbitmq.com/v1beta1 RabbitmqCluster",
			"apiVersion: rabbitmq.com/v1beta1\nkind: RabbitmqCluster\nmetadata: {name: r}\nspec: {replica: 3}\n", "spec.replica"},
		{"schema type", "postgresql.cnpg.io/v1 Cluster",
			"apiVersion: postgresql.cnpg.io/v1\nkind: Cluster\nmetadata: {name: c}\nspec: {instances: three, storage: {size: 1Gi}}\n", "spec.instances"},
		{"CEL rule", "gateway.networking.k8s.io/v1 HTTPRoute",
			"apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {name: h}\nspec:\n  rules:\n" +
				"    - matches: [{path: {type: PathPrefix, value: /a}}]\n" +
				"      filters: [{type: URLRewrite, urlRewrite: {hostname: a.b}}, {type: URLRewrite, urlRewrite: {hostname: c.d}}]\n",
			"URLRewrite"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			errs := validateAgainstCRD(manifest{File: "case", Raw: []byte(c.doc)}, crdSchemas[c.kind])
			if !strings.Contains(errs.ToAggregate().Error(), c.want) {
				t.Errorf("errors %v, want one about %s", errs, c.want)
			}
		})
	}
}
