package knative

import (
	"testing"

	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
)

// build runs kustomize (the library behind `kubectl apply -k`) on a directory.
func build(t *testing.T, dir string) []manifest {
	t.Helper()
	k := krusty.MakeKustomizer(krusty.MakeDefaultOptions())
	res, err := k.Run(filesys.MakeFsOnDisk(), dir)
	if err != nil {
		t.Fatalf("kustomize build %s: %v", dir, err)
	}
	out, err := res.AsYaml()
	if err != nil {
		t.Fatal(err)
	}
	return splitManifests(t, dir, out)
}

func TestKustomizeBuildsBase(t *testing.T) {
	ms := build(t, "base")
	for _, m := range ms {
		if m.Kind != "Namespace" && m.Metadata.Namespace != Namespace {
			t.Errorf("%s lands in namespace %q, want %q", m, m.Metadata.Namespace, Namespace)
		}
	}
	if n := len(ofKind(ms, "serving.knative.dev/v1", "Service")); n != len(knativeServices(t)) {
		t.Errorf("build has %d Knative Services, the files %d", n, len(knativeServices(t)))
	}
}

func TestKustomizeBuildsGKEOverlay(t *testing.T) {
	ms := build(t, "overlays/gke")
	ctx := servingContext(t)
	var grants, gateways, dashboards int
	for _, m := range ms {
		switch {
		case m.Kind == "ReferenceGrant":
			grants++
			if m.Metadata.Namespace != IngressNamespace {
				t.Errorf("%s in %q, want %q (it must sit beside the ingress Service)", m, m.Metadata.Namespace, IngressNamespace)
			}
		case m.Kind == "ConfigMap" && m.Metadata.Labels["grafana_dashboard"] == "1":
			dashboards++
		case m.Kind == "Gateway":
			gateways++
			if m.Metadata.Name != GatewayName {
				t.Errorf("Gateway %s, the routes attach to %s", m.Metadata.Name, GatewayName)
			}
		}
	}
	if grants != 1 || gateways != 1 || dashboards != 1 {
		t.Errorf("%d ReferenceGrants, %d Gateways, %d dashboards; want one each", grants, gateways, dashboards)
	}
	for _, m := range ofKind(ms, "serving.knative.dev/v1", "Service") {
		t.Run(m.Metadata.Name, func(t *testing.T) {
			svc := decodeService(t, m)
			svc.SetDefaults(ctx)
			if err := svc.Validate(ctx); err != nil {
				t.Fatalf("patched Service fails validation: %v", err)
			}
			c := svc.Spec.Template.Spec.Containers[0]
			if c.Image == Image {
				t.Errorf("image still the placeholder %q", Image)
			}
			if tier := Tier(svc.Labels[LabelTier]); tier == TierCheckout || tier == TierAPI || tier == TierCompensation {
				if ms := svc.Spec.Template.Annotations["autoscaling.knative.dev/min-scale"]; ms == "0" {
					t.Errorf("tier %s scales to zero on GKE", tier)
				}
			}
		})
	}
	for _, m := range ofKind(ms, "postgresql.cnpg.io/v1", "Cluster") {
		var c struct {
			Spec struct {
				Instances int `json:"instances"`
				Storage   struct {
					StorageClass string `json:"storageClass"`
				} `json:"storage"`
			} `json:"spec"`
		}
		decodeLoose(t, m, &c)
		if c.Spec.Storage.StorageClass == "" || c.Spec.Instances < 3 {
			t.Errorf("%s: storage class %q, %d instances", m, c.Spec.Storage.StorageClass, c.Spec.Instances)
		}
	}
}
