package addons

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
)

// KnativeSources are the module folders (in the Go module cache) whose
// config/ folders hold Knative's release YAML.
type KnativeSources struct {
	Serving, Eventing, Networking, Caching string
}

// IngressClass is Traefik's Knative ingress class.
const IngressClass = "traefik.ingress.networking.knative.dev"

// KnativeConfig is what this cluster sets in Knative's ConfigMaps.
type KnativeConfig struct {
	Domain     string            // the public domain, e.g. example.com
	Autoscaler map[string]string // config-autoscaler keys (the webhook validates them)
}

// skipped are release files this cluster leaves out: HPAs need a metrics
// server it does not run (the Deployments keep one replica).
var skipped = []string{"activator-hpa.yaml", "webhook-hpa.yaml"}

// Knative renders Serving's core, the networking CRDs and config-network,
// the caching Image CRD (the serving module zip drops those, being symlinks
// in its repository), Eventing's core, the InMemoryChannel and the
// channel-based broker. images maps each ko:// import path to a reference.
func Knative(src KnativeSources, images map[string]string, cfg KnativeConfig) ([]Doc, error) {
	docs, err := ReadTree(skipped,
		filepath.Join(src.Serving, "config", "core"),
		filepath.Join(src.Networking, "config"),
		filepath.Join(src.Caching, "config"),
		filepath.Join(src.Eventing, "config", "core"),
		filepath.Join(src.Eventing, "config", "channels", "in-memory-channel"),
		filepath.Join(src.Eventing, "config", "brokers", "mt-channel-broker"),
	)
	if err != nil {
		return nil, err
	}
	var missing []string
	for _, d := range docs {
		replaceKo(d, images, &missing)
		shrink(d)
		configure(d, cfg)
	}
	if len(missing) > 0 {
		slices.Sort(missing)
		return nil, fmt.Errorf("no image built for %s", strings.Join(slices.Compact(missing), ", "))
	}
	return Ordered(dedupe(docs)), nil
}

// replaceKo swaps every "ko://path" string for the image built here.
func replaceKo(v any, images map[string]string, missing *[]string) {
	swap := func(x any) (any, bool) {
		s, ok := x.(string)
		if !ok || !strings.HasPrefix(s, "ko://") {
			return x, false
		}
		ref, found := images[strings.TrimPrefix(s, "ko://")]
		if !found {
			*missing = append(*missing, s)
		}
		return ref, true
	}
	switch t := v.(type) {
	case Doc:
		replaceKo(map[string]any(t), images, missing)
	case map[string]any:
		for k, x := range t {
			if ref, ok := swap(x); ok {
				t[k] = ref
			} else {
				replaceKo(x, images, missing)
			}
		}
	case []any:
		for i, x := range t {
			if ref, ok := swap(x); ok {
				t[i] = ref
			} else {
				replaceKo(x, images, missing)
			}
		}
	}
}

// podSpec is the pod template's spec of a workload, or nil.
func podSpec(d Doc) map[string]any {
	switch d.Kind() {
	case "Deployment", "StatefulSet", "DaemonSet", "Job":
	default:
		return nil
	}
	spec, _ := d["spec"].(map[string]any)
	tmpl, _ := spec["template"].(map[string]any)
	ps, _ := tmpl["spec"].(map[string]any)
	return ps
}

// shrink makes every container's requests small enough for all of Knative
// to schedule beside the shop on one 2-core node (the release asks for
// well over a core in total), and forbids pulls.
func shrink(d Doc) {
	ps := podSpec(d)
	if ps == nil {
		return
	}
	for _, key := range []string{"initContainers", "containers"} {
		cs, _ := ps[key].([]any)
		for _, c := range cs {
			cm, ok := c.(map[string]any)
			if !ok {
				continue
			}
			cm["imagePullPolicy"] = "Never"
			res, _ := cm["resources"].(map[string]any)
			if res == nil {
				res = map[string]any{}
				cm["resources"] = res
			}
			res["requests"] = map[string]any{"cpu": "10m", "memory": "32Mi"}
			if lim, ok := res["limits"].(map[string]any); ok {
				// A CPU limit throttles a controller during a burst of
				// reconciles; on a shared 2-core node requests are the
				// only fair share worth setting.
				delete(lim, "cpu")
			}
		}
	}
}

// configure sets this cluster's keys in Knative's ConfigMaps.
func configure(d Doc, cfg KnativeConfig) {
	if d.Kind() != "ConfigMap" {
		return
	}
	data, _ := d["data"].(map[string]any)
	if data == nil {
		data = map[string]any{}
		d["data"] = data
	}
	switch d.Namespace() + "/" + d.Name() {
	case "knative-serving/config-network":
		// Traefik's docs show the older ingress.class key; Serving 1.15 reads ingress-class.
		data["ingress-class"] = IngressClass
	case "knative-serving/config-domain":
		d["data"] = map[string]any{cfg.Domain: ""}
	case "knative-serving/config-autoscaler":
		for k, v := range cfg.Autoscaler {
			data[k] = v
		}
	case "knative-serving/config-deployment":
		// Images built here are never resolved to digests through a
		// registry (there is none); dev.local is skipped by default, say so.
		data["registries-skipping-tag-resolving"] = "kind.local,ko.local,dev.local"
	}
}

// dedupe keeps the last of objects that appear twice (networking's
// config-network is both a release file and, in newer serving releases, a
// serving file).
func dedupe(docs []Doc) []Doc {
	key := func(d Doc) string {
		api, _ := d["apiVersion"].(string)
		return api + "/" + d.Kind() + "/" + d.Namespace() + "/" + d.Name()
	}
	last := map[string]int{}
	for i, d := range docs {
		last[key(d)] = i
	}
	var out []Doc
	for i, d := range docs {
		if last[key(d)] == i {
			out = append(out, d)
		}
	}
	return out
}

// Ordered puts namespaces and CRDs first, so one apply creates everything.
func Ordered(docs []Doc) []Doc {
	rank := func(d Doc) int {
		switch d.Kind() {
		case "Namespace":
			return 0
		case "CustomResourceDefinition":
			return 1
		default:
			return 2
		}
	}
	out := slices.Clone(docs)
	slices.SortStableFunc(out, func(a, b Doc) int { return rank(a) - rank(b) })
	return out
}

// SplitCRDs parts objects into namespaces and CRDs, and everything else.
func SplitCRDs(docs []Doc) (crds, rest []Doc) {
	for _, d := range docs {
		switch d.Kind() {
		case "Namespace", "CustomResourceDefinition":
			crds = append(crds, d)
		default:
			rest = append(rest, d)
		}
	}
	return crds, rest
}
