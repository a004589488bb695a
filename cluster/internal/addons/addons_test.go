package addons

import (
	"bytes"
	"strings"
	"testing"
)

var testImages = map[string]string{
	"knative.dev/serving/cmd/controller":                    "dev.local/knative/serving-controller:v1",
	"knative.dev/serving/cmd/queue":                         "dev.local/knative/serving-queue:v1",
	"knative.dev/eventing/cmd/in_memory/channel_dispatcher": "dev.local/knative/eventing-imc-dispatcher:v1",
}

var testSources = KnativeSources{Serving: "testdata/serving", Eventing: "testdata/eventing",
	Networking: "testdata/networking", Caching: "testdata/caching"}

func find(docs []Doc, kind, name string) Doc {
	for _, d := range docs {
		if d.Kind() == kind && d.Name() == name {
			return d
		}
	}
	return nil
}

func TestKnativeRendering(t *testing.T) {
	docs, err := Knative(testSources, testImages, KnativeConfig{Domain: "example.com", Autoscaler: map[string]string{"stable-window": "6s"}})
	if err != nil {
		t.Fatal(err)
	}
	out, err := Encode(docs)
	if err != nil {
		t.Fatal(err)
	}
	text := string(out)
	if strings.Contains(text, "ko://") {
		t.Errorf("a ko:// reference is left:\n%s", text)
	}
	if find(docs, "HorizontalPodAutoscaler", "webhook") != nil {
		t.Error("the HPA was kept; no metrics server runs here")
	}
	if docs[0].Kind() != "Namespace" || docs[1].Kind() != "CustomResourceDefinition" {
		t.Errorf("order: %s, %s; want Namespace, then CRDs", docs[0].Kind(), docs[1].Kind())
	}
	if crds, rest := SplitCRDs(docs); len(crds) != 2 || len(rest) != len(docs)-2 {
		t.Errorf("split into %d and %d, want the namespace and CRD apart", len(crds), len(rest))
	}
	data := func(name string) map[string]any {
		d := find(docs, "ConfigMap", name)
		if d == nil {
			t.Fatalf("no ConfigMap %s", name)
		}
		return d["data"].(map[string]any)
	}
	tests := []struct {
		name string
		got  any
		want any
	}{
		{"Traefik is the ingress", data("config-network")["ingress-class"], IngressClass},
		{"public domain", len(data("config-domain")), 1},
		{"domain key", data("config-domain")["example.com"], ""},
		{"autoscaler window", data("config-autoscaler")["stable-window"], "6s"},
		{"queue-proxy image", data("config-deployment")["queue-sidecar-image"], "dev.local/knative/serving-queue:v1"},
		{"dev.local never resolved", data("config-deployment")["registries-skipping-tag-resolving"], "kind.local,ko.local,dev.local"},
	}
	for _, tc := range tests {
		if tc.got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, tc.got, tc.want)
		}
	}
	ctrl := find(docs, "Deployment", "controller")
	c := podSpec(ctrl)["containers"].([]any)[0].(map[string]any)
	res := c["resources"].(map[string]any)
	if c["imagePullPolicy"] != "Never" || res["requests"].(map[string]any)["cpu"] != "10m" {
		t.Errorf("container %v", c)
	}
	if _, ok := res["limits"].(map[string]any)["cpu"]; ok {
		t.Error("CPU limit kept")
	}
	if res["limits"].(map[string]any)["memory"] != "1000Mi" {
		t.Error("memory limit lost")
	}
	if !strings.Contains(text, "value: dev.local/knative/eventing-imc-dispatcher:v1") {
		t.Error("an image in an env value was not replaced")
	}
}

func TestKnativeNamesMissingImages(t *testing.T) {
	_, err := Knative(testSources, map[string]string{}, KnativeConfig{Domain: "example.com"})
	if err == nil || !strings.Contains(err.Error(), "ko://knative.dev/serving/cmd/controller") {
		t.Fatalf("err = %v, want the missing image named", err)
	}
}

func TestRenderAddons(t *testing.T) {
	v := Values{ClusterDomain: "cluster.local", DNSIP: "10.96.0.10",
		Images: map[string]string{"coredns": "dev.local/wdm/coredns:v1", "traefik": "dev.local/wdm/traefik:v1"}}
	tests := []struct {
		name    string
		want    []string
		notWant []string
	}{
		{"coredns", []string{"image: dev.local/wdm/coredns:v1", "clusterIP: 10.96.0.10", "kubernetes cluster.local"}, []string{"forward"}},
		{"traefik", []string{"image: dev.local/wdm/traefik:v1", "--providers.knative.privateService.name=traefik-local",
			"--providers.kubernetesgateway=true", "controllerName: traefik.io/gateway-controller"}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			y, err := Render(tc.name, v)
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range tc.want {
				if !strings.Contains(string(y), w) {
					t.Errorf("%q missing", w)
				}
			}
			for _, w := range tc.notWant {
				if strings.Contains(string(y), w) {
					t.Errorf("%q present", w)
				}
			}
			docs, err := Decode(bytes.NewReader(y))
			if err != nil || len(docs) < 3 {
				t.Fatalf("%d objects, %v", len(docs), err)
			}
			for _, d := range docs {
				if ps := podSpec(d); ps != nil {
					for _, c := range ps["containers"].([]any) {
						if c.(map[string]any)["imagePullPolicy"] != "Never" {
							t.Errorf("%s may pull", d.Name())
						}
					}
				}
			}
		})
	}
	if _, err := Render("coredns", Values{}); err == nil {
		t.Error("missing values were accepted")
	}
}
