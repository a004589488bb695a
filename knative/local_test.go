package knative

import (
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/labels"
	eventingv1 "knative.dev/eventing/pkg/apis/eventing/v1"
	"sigs.k8s.io/yaml"
)

// localDir is the overlay of the local real cluster (docs/cluster.md).
const localDir = "overlays/local"

// Facts of the local cluster the overlay must match (cluster/internal).
const (
	localBrokerClass   = "MTChannelBasedBroker"
	localGatewayClass  = "traefik"
	localPostgresImage = "dev.local/wdm/postgres"
	localPostgresPort  = 5432
)

// localCPUBudget is what the shop may request once idle on the one 2-core
// node, beside the cluster's own pods (docs/cluster.md: 10m each).
var localCPUBudget = resource.MustParse("500m")

// localMaxScale caps every Service: one node cannot hold more.
const localMaxScale = 3

// localCheckoutTarget bounds order-checkout's concurrency target: the node
// saturates at about 40 checkouts in flight, so a higher target is never
// passed and scale-up under Locust cannot be shown.
const localCheckoutTarget = 10

// TestLocalOverlay holds the rendered local overlay to what issue 19 asks:
// the base's shop on this cluster's parts, nothing of eventing-rabbitmq or
// CloudNativePG, one Postgres StatefulSet behind the Secrets the base reads.
func TestLocalOverlay(t *testing.T) {
	for _, p := range localProblems(t, build(t, localDir)) {
		t.Error(p)
	}
}

// TestLocalOverlayChecksCanFail breaks the rendered overlay in the ways the
// checks above guard against; each must be reported.
func TestLocalOverlayChecksCanFail(t *testing.T) {
	good := build(t, localDir)
	edit := func(ms []manifest, kind, name string, f func(doc map[string]any)) []manifest {
		out := slices.Clone(ms)
		for i, m := range out {
			if m.Kind != kind || (name != "" && m.Metadata.Name != name) {
				continue
			}
			var doc map[string]any
			if err := yaml.Unmarshal(m.Raw, &doc); err != nil {
				t.Fatal(err)
			}
			f(doc)
			raw, err := yaml.Marshal(doc)
			if err != nil {
				t.Fatal(err)
			}
			out[i] = splitManifests(t, m.File, raw)[0]
		}
		return out
	}
	drop := func(ms []manifest, kind, name string) []manifest {
		return slices.DeleteFunc(slices.Clone(ms), func(m manifest) bool { return m.Kind == kind && m.Metadata.Name == name })
	}
	rabbit := splitManifests(t, "rabbitmq.yaml", []byte("apiVersion: rabbitmq.com/v1beta1\nkind: RabbitmqCluster\nmetadata: {name: r, namespace: webshop}\n"))
	cnpg := splitManifests(t, "postgres.yaml", []byte("apiVersion: postgresql.cnpg.io/v1\nkind: Cluster\nmetadata: {name: stock-db, namespace: webshop}\n"))
	cases := []struct {
		name, want string
		ms         []manifest
	}{
		{"RabbitMQ broker class", "class", edit(good, "Broker", "", func(d map[string]any) {
			d["metadata"].(map[string]any)["annotations"] = map[string]any{"eventing.knative.dev/broker.class": "RabbitMQBroker"}
		})},
		{"RabbitMQ config kept", "spec.config", edit(good, "Broker", "", func(d map[string]any) {
			d["spec"] = map[string]any{"config": map[string]any{"apiVersion": "eventing.knative.dev/v1alpha1", "kind": "RabbitmqBrokerConfig", "name": "c"}}
		})},
		{"a RabbitmqCluster", "RabbitmqCluster", append(slices.Clone(good), rabbit...)},
		{"a CloudNativePG Cluster", "CloudNativePG", append(slices.Clone(good), cnpg...)},
		{"no StatefulSet", "StatefulSet", drop(good, "StatefulSet", "webshop-postgres")},
		{"a missing Secret", "stock-db-app", drop(good, "Secret", "stock-db-app")},
		{"a Secret naming no Service", "stock-db-rw", drop(good, "Service", "stock-db-rw")},
		{"a database the init never creates", "database", edit(good, "Secret", "payment-db-app", func(d map[string]any) {
			d["stringData"].(map[string]any)["uri"] = "postgres://postgres@payment-db-rw.webshop.svc.cluster.local:5432/payments?sslmode=disable"
		})},
		{"too few connections", "max_connections", edit(good, "StatefulSet", "", func(d map[string]any) {
			c := d["spec"].(map[string]any)["template"].(map[string]any)["spec"].(map[string]any)["containers"].([]any)[0].(map[string]any)
			c["args"] = []any{"-c", "max_connections=20"}
		})},
		{"routes to Kourier", "traefik-local", edit(good, "HTTPRoute", "webshop-stock", func(d map[string]any) {
			rule := d["spec"].(map[string]any)["rules"].([]any)[0].(map[string]any)
			rule["backendRefs"] = []any{map[string]any{"kind": "Service", "name": IngressService, "namespace": IngressNamespace, "port": 80}}
		})},
		{"GKE's Gateway", "gatewayClassName", edit(good, "Gateway", "", func(d map[string]any) {
			d["spec"].(map[string]any)["gatewayClassName"] = "gke-l7-global-external-managed"
		})},
		{"a large Service", "max-scale", edit(good, "Service", "stock-find", func(d map[string]any) {
			tmpl := d["spec"].(map[string]any)["template"].(map[string]any)
			tmpl["metadata"].(map[string]any)["annotations"].(map[string]any)["autoscaling.knative.dev/max-scale"] = "10"
		})},
		{"a checkout target never passed", "concurrency target", edit(good, "Service", "order-checkout", func(d map[string]any) {
			tmpl := d["spec"].(map[string]any)["template"].(map[string]any)
			tmpl["metadata"].(map[string]any)["annotations"].(map[string]any)["autoscaling.knative.dev/target"] = "200"
		})},
		{"a warm checkout", "min-scale", edit(good, "Service", "order-checkout", func(d map[string]any) {
			tmpl := d["spec"].(map[string]any)["template"].(map[string]any)
			tmpl["metadata"].(map[string]any)["annotations"].(map[string]any)["autoscaling.knative.dev/min-scale"] = "2"
		})},
		{"a Service missing", "Knative Services", drop(good, "Service", "payment-debit")},
		{"the migrate Job runs the function image", "migrate image", edit(good, "Job", "webshop-migrate", func(d map[string]any) {
			c := d["spec"].(map[string]any)["template"].(map[string]any)["spec"].(map[string]any)["containers"].([]any)[0].(map[string]any)
			c["image"] = "dev.local/webshop/function@sha256:0000000000000000000000000000000000000000000000000000000000000000"
		})},
	}
	if ps := localProblems(t, good); len(ps) != 0 {
		t.Fatalf("the overlay itself fails: %v", ps)
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ps := localProblems(t, c.ms)
			if !slices.ContainsFunc(ps, func(p string) bool { return strings.Contains(p, c.want) }) {
				t.Errorf("problems %q, want one about %s", ps, c.want)
			}
		})
	}
}

// localProblems lists what is wrong with a rendering of the local overlay.
// Decoding errors of the built-in kinds fail the test at once.
func localProblems(t *testing.T, ms []manifest) []string {
	t.Helper()
	var ps []string
	bad := func(format string, args ...any) { ps = append(ps, fmt.Sprintf(format, args...)) }
	base := build(t, "base")

	// The same Knative and Eventing resources as the base.
	for _, kind := range [][2]string{
		{"serving.knative.dev/v1", "Service"}, {"eventing.knative.dev/v1", "Trigger"}, {"sources.knative.dev/v1", "SinkBinding"},
		{"sources.knative.dev/v1", "PingSource"}, {EventTypeAPIVersion, "EventType"}, {"batch/v1", "Job"},
		{"eventing.knative.dev/v1", "Broker"}, {"gateway.networking.k8s.io/v1", "HTTPRoute"},
	} {
		want, got := names(ofKind(base, kind[0], kind[1])), names(ofKind(ms, kind[0], kind[1]))
		slices.Sort(want)
		slices.Sort(got)
		if !slices.Equal(want, got) {
			what := kind[1] + "s"
			if kind[1] == "Service" {
				what = "Knative Services"
			}
			bad("%s %v, the base has %v", what, got, want)
		}
	}
	for _, m := range ms {
		switch {
		case m.Kind == "RabbitmqCluster" || m.Kind == "RabbitmqBrokerConfig":
			bad("%s: eventing-rabbitmq is not on the local cluster", m)
		case m.APIVersion == "postgresql.cnpg.io/v1":
			bad("%s: no CloudNativePG on the local cluster", m)
		case strings.Contains(string(m.Raw), "kourier"):
			bad("%s names Kourier, which the local cluster does not run", m)
		}
	}

	// The channel-based broker, with no RabbitMQ leftovers.
	for _, m := range ofKind(ms, "eventing.knative.dev/v1", "Broker") {
		b := &eventingv1.Broker{}
		validateEventing(t, m, b)
		if c := b.Annotations[eventingv1.BrokerClassAnnotationKey]; c != localBrokerClass {
			bad("%s: class %q, want %s", m, c, localBrokerClass)
		}
		if b.Spec.Config != nil {
			bad("%s: spec.config %v: the channel-based broker takes no RabbitMQ config", m, b.Spec.Config)
		}
		for k := range b.Annotations {
			if strings.HasPrefix(k, "rabbitmq.") {
				bad("%s: eventing-rabbitmq's annotation %s", m, k)
			}
		}
	}

	// One Postgres StatefulSet, behind Services named as CloudNativePG's.
	sets := ofKind(ms, "apps/v1", "StatefulSet")
	if len(sets) != 1 {
		bad("%d StatefulSets, want the one Postgres", len(sets))
		return ps
	}
	var sts appsv1.StatefulSet
	decodeStrict(t, sets[0], &sts)
	pod := sts.Spec.Template
	if sts.Spec.Replicas == nil || *sts.Spec.Replicas != 1 {
		bad("%s: replicas %v, want 1", sets[0], sts.Spec.Replicas)
	}
	maxConns := 0
	var created []string // databases the init step creates
	for _, c := range append(slices.Clone(pod.Spec.InitContainers), pod.Spec.Containers...) {
		if !strings.HasPrefix(c.Image, localPostgresImage) || c.ImagePullPolicy != corev1.PullNever {
			bad("%s: container %s runs %s (pull %s), want %s never pulled", sets[0], c.Name, c.Image, c.ImagePullPolicy, localPostgresImage)
		}
		if c.Resources.Requests.Cpu().IsZero() || c.Resources.Limits.Memory().IsZero() {
			bad("%s: container %s without a CPU request or a memory limit", sets[0], c.Name)
		}
		script := strings.Join(c.Command, " ")
		if m := regexp.MustCompile(`for db in ([^;]+);`).FindStringSubmatch(script); m != nil {
			created = append(created, strings.Fields(m[1])...)
		}
		for i, a := range c.Args {
			if v, ok := strings.CutPrefix(a, "max_connections="); ok && i > 0 && c.Args[i-1] == "-c" {
				maxConns, _ = strconv.Atoi(v)
			}
		}
	}
	if len(pod.Spec.Containers) != 1 {
		bad("%s: %d containers, want postgres alone", sets[0], len(pod.Spec.Containers))
	}
	services := map[string]corev1.Service{}
	for _, m := range ofKind(ms, "v1", "Service") {
		var s corev1.Service
		decodeStrict(t, m, &s)
		services[s.Name] = s
	}
	if s, ok := services[sts.Spec.ServiceName]; !ok || s.Spec.ClusterIP != corev1.ClusterIPNone {
		bad("%s: governing Service %q is not a headless Service of the overlay", sets[0], sts.Spec.ServiceName)
	}
	secrets := map[string]corev1.Secret{}
	for _, m := range ofKind(ms, "v1", "Secret") {
		var s corev1.Secret
		decodeStrict(t, m, &s)
		secrets[s.Name] = s
	}
	// The database each CloudNativePG cluster of the base bootstraps.
	databases := map[string]string{}
	for _, m := range ofKind(base, "postgresql.cnpg.io/v1", "Cluster") {
		var c cnpgCluster
		decodeLoose(t, m, &c)
		databases[AppSecret(m.Metadata.Name)] = c.Spec.Bootstrap.InitDB.Database
	}
	checkRef := func(owner, secret, key string) {
		s, ok := secrets[secret]
		if !ok {
			bad("%s reads Secret %s, which the overlay does not define", owner, secret)
			return
		}
		uri, ok := s.StringData[key]
		if !ok {
			uri, ok = string(s.Data[key]), s.Data[key] != nil
		}
		if !ok {
			bad("%s reads key %s of Secret %s, which has none", owner, key, secret)
			return
		}
		u, err := url.Parse(uri)
		if err != nil || u.Scheme != "postgres" {
			bad("Secret %s: %q is no postgres:// URI (%v)", secret, uri, err)
			return
		}
		host, ok := strings.CutSuffix(u.Hostname(), "."+Namespace+".svc.cluster.local")
		svc, found := services[host]
		if !ok || !found {
			bad("Secret %s: host %s is not a Service of the overlay", secret, u.Hostname())
		} else if !labels.SelectorFromSet(svc.Spec.Selector).Matches(labels.Set(pod.Labels)) || len(svc.Spec.Selector) == 0 {
			bad("Secret %s: Service %s does not select the Postgres pod", secret, host)
		} else if !slices.ContainsFunc(svc.Spec.Ports, func(p corev1.ServicePort) bool { return p.Port == localPostgresPort }) || u.Port() != strconv.Itoa(localPostgresPort) {
			bad("Secret %s: port %s, Service %s serves %v", secret, u.Port(), host, svc.Spec.Ports)
		}
		db := strings.TrimPrefix(u.Path, "/")
		if !slices.Contains(created, db) {
			bad("Secret %s: database %q, the init step creates %v", secret, db, created)
		}
		if want := databases[secret]; want != "" && db != want {
			bad("Secret %s: database %q, CloudNativePG's is %q", secret, db, want)
		}
		if u.Query().Get("sslmode") != "disable" {
			bad("Secret %s: sslmode %q: the image serves no TLS", secret, u.Query().Get("sslmode"))
		}
	}

	// Every Knative Service: valid, real image, small, and the DSNs resolve.
	ctx := servingContext(t)
	var cpu int64 // idle request in millicores
	conns := 0
	knative := ofKind(ms, "serving.knative.dev/v1", "Service")
	for _, m := range knative {
		svc := decodeService(t, m)
		svc.SetDefaults(ctx)
		if err := svc.Validate(ctx); err != nil {
			bad("%s: Validate: %v", m, err)
		}
		ann := svc.Spec.Template.Annotations
		minScale, _ := strconv.Atoi(ann["autoscaling.knative.dev/min-scale"])
		maxScale, err := strconv.Atoi(ann["autoscaling.knative.dev/max-scale"])
		if err != nil || maxScale < 1 || maxScale > localMaxScale {
			bad("%s: max-scale %q, want 1..%d on one node", m, ann["autoscaling.knative.dev/max-scale"], localMaxScale)
		}
		if Tier(svc.Labels[LabelTier]) == TierCheckout && minScale != 0 {
			bad("%s: min-scale %d: the checkout path must scale to zero here (the cold checkout)", m, minScale)
		}
		if target, _ := strconv.Atoi(ann["autoscaling.knative.dev/target"]); svc.Name == "order-checkout" && (target < 1 || target > localCheckoutTarget) {
			bad("%s: concurrency target %q, want 1..%d so that Locust passes it on one node", m, ann["autoscaling.knative.dev/target"], localCheckoutTarget)
		}
		c := svc.Spec.Template.Spec.Containers[0]
		cpu += int64(minScale) * (c.Resources.Requests.Cpu().MilliValue() + queueProxyCPU.MilliValue())
		for _, e := range c.Env {
			if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
				checkRef(m.String(), e.ValueFrom.SecretKeyRef.Name, e.ValueFrom.SecretKeyRef.Key)
			}
			if e.Name == "DB_MAX_CONNS" {
				n, _ := strconv.Atoi(e.Value)
				conns += maxScale * (n + 1) // its pool and a LISTEN connection
			}
		}
	}
	for _, m := range ofKind(ms, "batch/v1", "Job") {
		for _, c := range jobPod(t, m).Containers {
			if !strings.HasPrefix(c.Image, "dev.local/webshop/migrate@sha256:") {
				bad("%s: image %s, want the migrate image (dev.local/webshop/migrate, pinned)", m, c.Image)
			}
			for _, e := range c.Env {
				if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
					checkRef(m.String(), e.ValueFrom.SecretKeyRef.Name, e.ValueFrom.SecretKeyRef.Key)
				}
			}
		}
	}
	// One server holds all three databases: its limit covers them all.
	if conns == 0 || conns > maxConns*9/10 {
		bad("%s: Services may open %d connections, max_connections is %d", sets[0], conns, maxConns)
	}
	for _, c := range pod.Spec.Containers {
		cpu += c.Resources.Requests.Cpu().MilliValue()
	}
	if cpu > localCPUBudget.MilliValue() {
		bad("the shop requests %dm CPU idle, more than %s on the one 2-core node", cpu, localCPUBudget.String())
	}

	// Public routing: Traefik's Gateway, the routes to Traefik's cluster-local entry point.
	gateways := ofKind(ms, "gateway.networking.k8s.io/v1", "Gateway")
	if len(gateways) != 1 {
		bad("%d Gateways, want one", len(gateways))
	}
	for _, m := range gateways {
		var g struct {
			Spec struct {
				GatewayClassName string `json:"gatewayClassName"`
			} `json:"spec"`
		}
		decodeLoose(t, m, &g)
		if m.Metadata.Name != GatewayName || g.Spec.GatewayClassName != localGatewayClass {
			bad("%s: gatewayClassName %q, want %s named %s", m, g.Spec.GatewayClassName, localGatewayClass, GatewayName)
		}
	}
	for _, m := range ofKind(ms, "gateway.networking.k8s.io/v1", "HTTPRoute") {
		var r httpRoute
		decodeStrict(t, m, &r)
		for i, rule := range r.Spec.Rules {
			for _, b := range rule.BackendRefs {
				if b.Name != LocalIngressService || b.Namespace != LocalIngressNamespace {
					bad("%s rule %d forwards to %s/%s, want %s/%s", m, i, b.Namespace, b.Name, LocalIngressNamespace, LocalIngressService)
				}
			}
		}
	}
	granted := false
	for _, m := range ofKind(ms, "gateway.networking.k8s.io/v1beta1", "ReferenceGrant") {
		granted = granted || (m.Metadata.Namespace == LocalIngressNamespace && strings.Contains(string(m.Raw), "name: "+LocalIngressService))
	}
	if !granted {
		bad("no ReferenceGrant in %s lets the routes reach %s", LocalIngressNamespace, LocalIngressService)
	}
	return ps
}
