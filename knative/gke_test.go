package knative

import (
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/wdm-knative/webshop/saga"
)

// gkeBackendPolicy mirrors GKE's HealthCheckPolicy and GCPBackendPolicy
// (networking.gke.io/v1) as far as the shop sets them; strict decoding
// rejects a misspelt field.
type gkeBackendPolicy struct {
	APIVersion string         `json:"apiVersion"`
	Kind       string         `json:"kind"`
	Metadata   map[string]any `json:"metadata"`
	Spec       struct {
		Default struct {
			TimeoutSec int `json:"timeoutSec,omitempty"`
			Config     *struct {
				Type            string `json:"type"`
				HTTPHealthCheck struct {
					PortSpecification string `json:"portSpecification"`
					Port              int    `json:"port"`
					Host              string `json:"host"`
					RequestPath       string `json:"requestPath"`
				} `json:"httpHealthCheck"`
			} `json:"config,omitempty"`
		} `json:"default"`
		TargetRef struct {
			Group string `json:"group"`
			Kind  string `json:"kind"`
			Name  string `json:"name"`
		} `json:"targetRef"`
	} `json:"spec"`
}

func gkePolicy(t *testing.T, r rendered, kind string) (gkeBackendPolicy, manifest) {
	t.Helper()
	ms := ofKind(r.all, "networking.gke.io/v1", kind)
	if len(ms) != 1 {
		t.Fatalf("%d %ss, want one for Kourier's gateway", len(ms), kind)
	}
	var p gkeBackendPolicy
	decodeStrict(t, ms[0], &p)
	if p.Spec.TargetRef.Kind != "Service" || p.Spec.TargetRef.Group != "" || p.Spec.TargetRef.Name != IngressService {
		t.Errorf("%s targets %+v, want Service %s", ms[0], p.Spec.TargetRef, IngressService)
	}
	// A GKE policy applies only to a Service in its own namespace.
	if ms[0].Metadata.Namespace != IngressNamespace {
		t.Errorf("%s in namespace %q, the Service is in %q", ms[0], ms[0].Metadata.Namespace, IngressNamespace)
	}
	return p, ms[0]
}

// TestGKELoadBalancerPolicies: the health check hits Kourier's readiness
// (the default GET / answers 404: every backend unhealthy), and the backend
// timeout outlasts every request the public routes can make.
func TestGKELoadBalancerPolicies(t *testing.T) {
	forEachDeployable(t, func(t *testing.T, r rendered) {
		if !r.gke {
			return
		}
		// The checkout's wait: the saga's default unless a Service sets it.
		checkoutWait := saga.DefaultOptions.CheckoutTimeout
		for name, svc := range r.services {
			for _, e := range svc.Spec.Template.Spec.Containers[0].Env {
				if e.Name == "CHECKOUT_TIMEOUT" {
					d, err := time.ParseDuration(e.Value)
					if err != nil {
						t.Fatalf("Service %s: CHECKOUT_TIMEOUT=%q: %v", name, e.Value, err)
					}
					checkoutWait = max(checkoutWait, d)
				}
			}
		}
		hc, m := gkePolicy(t, r, "HealthCheckPolicy")
		c := hc.Spec.Default.Config
		if c == nil || c.Type != "HTTP" || c.HTTPHealthCheck.RequestPath != "/ready" || c.HTTPHealthCheck.Host != "internalkourier" ||
			c.HTTPHealthCheck.Port != 8081 || c.HTTPHealthCheck.PortSpecification != "USE_FIXED_PORT" {
			t.Errorf("%s: health check %+v, want HTTP GET /ready, Host internalkourier, fixed port 8081", m, c)
		}
		bp, m := gkePolicy(t, r, "GCPBackendPolicy")
		timeout := time.Duration(bp.Spec.Default.TimeoutSec) * time.Second
		if timeout <= checkoutWait {
			t.Errorf("%s: timeout %v does not outlast the checkout's wait %v", m, timeout, checkoutWait)
		}
		for _, rule := range r.publicRules(t) {
			name, _ := strings.CutSuffix(rule.host, "."+Namespace+".svc.cluster.local")
			if svc := r.services[name]; svc != nil && svc.Spec.Template.Spec.TimeoutSeconds != nil {
				if own := time.Duration(*svc.Spec.Template.Spec.TimeoutSeconds) * time.Second; timeout <= own {
					t.Errorf("%s: timeout %v cuts off %s (%s allows %v)", m, timeout, rule.prefix, name, own)
				}
			}
		}
	})
}

// podImages lists every container image of the pods an overlay creates itself.
func podImages(t *testing.T, r rendered) map[string]string {
	t.Helper()
	out := map[string]string{}
	for name, svc := range r.services {
		for _, c := range svc.Spec.Template.Spec.Containers {
			out["Service "+name] = c.Image
		}
	}
	for _, m := range ofKind(r.all, "batch/v1", "Job") {
		for _, c := range jobPod(t, m).Containers {
			out["Job "+m.Metadata.Name] = c.Image
		}
	}
	return out
}

// TestImagesPinnedByDigest: a re-apply rolls out exactly what was built,
// never whatever a tag points at by then.
func TestImagesPinnedByDigest(t *testing.T) {
	digest := regexp.MustCompile(`^[a-z0-9.-]+(:[0-9]+)?/[^@:]+@sha256:[0-9a-f]{64}$`)
	forEachDeployable(t, func(t *testing.T, r rendered) {
		if !r.gke && !r.local {
			return // base keeps the placeholders overlays replace
		}
		images := podImages(t, r)
		if len(images) == 0 {
			t.Fatal("no images")
		}
		for owner, image := range images {
			if !digest.MatchString(image) {
				t.Errorf("%s runs %q, not registry/path@sha256:digest", owner, image)
			}
		}
	})
}

// TestNoReadinessPeriod: a readinessProbe.periodSeconds turns off Knative's
// aggressive startup probing, so each scale-from-zero would pay up to that
// period more.
func TestNoReadinessPeriod(t *testing.T) {
	forEachDeployable(t, func(t *testing.T, r rendered) {
		for name, svc := range r.services {
			for _, c := range svc.Spec.Template.Spec.Containers {
				if p := c.ReadinessProbe; p != nil && p.PeriodSeconds != 0 {
					t.Errorf("Service %s: readinessProbe.periodSeconds %d", name, p.PeriodSeconds)
				}
			}
		}
	})
}

// The resource annotations eventing-rabbitmq reads from Brokers (ingress
// pod) and Triggers (dispatcher pods); one set drops all its defaults.
var rabbitResourceAnnotations = []string{
	"rabbitmq.eventing.knative.dev/cpu-request", "rabbitmq.eventing.knative.dev/cpu-limit",
	"rabbitmq.eventing.knative.dev/memory-request", "rabbitmq.eventing.knative.dev/memory-limit",
}

// upstreamIngressCPULimit is eventing-rabbitmq's default for the ingress
// (pkg/reconciler/broker/resources/ingress.go): one CPU, one replica.
var upstreamIngressCPULimit = resource.MustParse("1")

// TestBrokerIngressSizedForCheckouts: every checkout crosses the ingress
// three times; it must get more than the default single CPU, and all four
// annotations (one alone drops the others' defaults).
func TestBrokerIngressSizedForCheckouts(t *testing.T) {
	for _, m := range ofKind(baseManifests(t), "eventing.knative.dev/v1", "Broker") {
		q := annotationQuantities(t, m)
		if q == nil {
			continue
		}
		if limit := q["rabbitmq.eventing.knative.dev/cpu-limit"]; limit.Cmp(upstreamIngressCPULimit) <= 0 {
			t.Errorf("%s: ingress CPU limit %s, no more than eventing-rabbitmq's default %s", m, limit.String(), upstreamIngressCPULimit.String())
		}
	}
}

// annotationQuantities parses the four resource annotations; it fails the
// test when some but not all are set, or one does not parse.
func annotationQuantities(t *testing.T, m manifest) map[string]resource.Quantity {
	t.Helper()
	out := map[string]resource.Quantity{}
	for _, key := range rabbitResourceAnnotations {
		v, ok := m.Metadata.Annotations[key]
		if !ok {
			continue
		}
		q, err := resource.ParseQuantity(v)
		if err != nil {
			t.Errorf("%s: %s=%q: %v", m, key, v, err)
			continue
		}
		out[key] = q
	}
	if len(out) != 0 && len(out) != len(rabbitResourceAnnotations) {
		t.Errorf("%s sets %d of the %d resource annotations: the rest lose their defaults", m, len(out), len(rabbitResourceAnnotations))
	}
	for _, kind := range []string{"cpu", "memory"} {
		req, lim := out["rabbitmq.eventing.knative.dev/"+kind+"-request"], out["rabbitmq.eventing.knative.dev/"+kind+"-limit"]
		if !lim.IsZero() && req.Cmp(lim) > 0 {
			t.Errorf("%s: %s request %s above its limit %s", m, kind, req.String(), lim.String())
		}
	}
	if len(out) == 0 {
		t.Errorf("%s: no resource annotations", m)
		return nil
	}
	return out
}

// deployGuide is the cluster deployment guide, whose claims these tests hold
// to the manifests.
const deployGuide = "../docs/deploying-gke.md"

func readDeployGuide(t *testing.T) string {
	t.Helper()
	data, err := os.ReadFile(deployGuide)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// guideSection is the deployment guide's text from the heading title to the
// next heading of the same or a higher level.
func guideSection(t *testing.T, title string) string {
	t.Helper()
	text := readDeployGuide(t)
	re := regexp.MustCompile(`(?m)^(#+) ` + regexp.QuoteMeta(title) + `\s*$`)
	loc := re.FindStringSubmatchIndex(text)
	if loc == nil {
		t.Fatalf("%s has no section %q", deployGuide, title)
	}
	level := text[loc[2]:loc[3]]
	rest := text[loc[1]:]
	end := regexp.MustCompile(`(?m)^#{1,` + strconv.Itoa(len(level)) + `} `).FindStringIndex(rest)
	if end != nil {
		rest = rest[:end[0]]
	}
	return rest
}

// Requests of pods that Knative and eventing-rabbitmq create for the shop's
// resources, when not set by annotation: Knative Serving's queue-proxy
// sidecar (config-deployment queue-sidecar-cpu-request), and a Trigger's
// dispatcher (eventing-rabbitmq's default).
var (
	queueProxyCPU         = resource.MustParse("25m")
	upstreamDispatcherCPU = resource.MustParse("300m")
	upstreamIngressCPU    = resource.MustParse("50m")
)

// Headroom the shop leaves on the documented node pool: GKE's own pods on
// every node (kube-proxy or anetd, logging and metrics agents, the CSI
// driver, the metrics collector), and the platform's controllers once per
// cluster (Knative Serving with Kourier, Eventing, eventing-rabbitmq, the
// RabbitMQ and CloudNativePG operators, cert-manager).
var (
	systemCPUPerNode = resource.MustParse("400m")
	platformCPU      = resource.MustParse("2500m")
)

// allocatableMilliCPU is GKE's allocatable CPU of a node with n vCPUs: 6% of
// the first core, 1% of the second, 0.5% of the next two and 0.25% of the
// rest are reserved for the kubelet and the system.
func allocatableMilliCPU(vcpus int) int64 {
	reserved := []float64{60, 10, 5, 5}
	total := float64(vcpus * 1000)
	for i := 0; i < vcpus; i++ {
		if i < len(reserved) {
			total -= reserved[i]
		} else {
			total -= 2.5
		}
	}
	return int64(total)
}

// machineVCPUs are the machine types the deployment guide may document.
var machineVCPUs = map[string]int{
	"e2-standard-2": 2, "e2-standard-4": 4, "e2-standard-8": 8, "e2-standard-16": 16,
	"n2-standard-4": 4, "n2-standard-8": 8, "n2-standard-16": 16,
}

// documentedNodePool reads the shop's node pool from the deployment guide's
// `gcloud container clusters create` command.
func documentedNodePool(t *testing.T) (nodes int, machine string) {
	t.Helper()
	section := guideSection(t, "Deploying on GKE")
	cmd := regexp.MustCompile("`(gcloud container clusters create [^`]+)`").FindStringSubmatch(section)
	if cmd == nil {
		t.Fatal("the GKE guide has no `gcloud container clusters create` command")
	}
	flag := func(name string) string {
		m := regexp.MustCompile(`--` + name + `[ =](\S+)`).FindStringSubmatch(cmd[1])
		if m == nil {
			return ""
		}
		return m[1]
	}
	perZone, err := strconv.Atoi(flag("num-nodes"))
	if err != nil {
		t.Fatalf("--num-nodes in %q: %v", cmd[1], err)
	}
	zones := 1
	if locations := flag("node-locations"); locations != "" {
		zones = len(strings.Split(locations, ","))
	} else if flag("region") != "" {
		zones = 3 // a regional cluster's default
	}
	return perZone * zones, flag("machine-type")
}

// TestDocumentedClusterFitsRequests sums the CPU the gke overlays request
// once warm (database instances, RabbitMQ, the warm instances of every
// Service with their queue-proxies, the broker's ingress, one dispatcher per
// Trigger and one per dead-letter queue) and checks it against the node pool
// the deployment guide tells users to create, less the system's share.
func TestDocumentedClusterFitsRequests(t *testing.T) {
	nodes, machine := documentedNodePool(t)
	vcpus, ok := machineVCPUs[machine]
	if !ok {
		t.Fatalf("machine type %q: vCPUs unknown to the test", machine)
	}
	capacity := int64(nodes)*allocatableMilliCPU(vcpus) - int64(nodes)*systemCPUPerNode.MilliValue() - platformCPU.MilliValue()
	forEachDeployable(t, func(t *testing.T, r rendered) {
		if !r.gke {
			return
		}
		requests := map[string]int64{} // what requests it, in millicores
		for name, svc := range r.services {
			minScale, err := strconv.Atoi(svc.Spec.Template.Annotations["autoscaling.knative.dev/min-scale"])
			if err != nil {
				minScale = 0 // Knative's default
			}
			c := svc.Spec.Template.Spec.Containers[0]
			requests["Service "+name] = int64(minScale) * (c.Resources.Requests.Cpu().MilliValue() + queueProxyCPU.MilliValue())
		}
		for _, m := range r.all {
			var spec struct {
				Spec struct {
					Instances int `json:"instances"`
					Replicas  int `json:"replicas"`
					Resources struct {
						Requests map[string]resource.Quantity `json:"requests"`
					} `json:"resources"`
					Delivery *struct {
						DeadLetterSink any `json:"deadLetterSink"`
					} `json:"delivery"`
				} `json:"spec"`
			}
			decodeLoose(t, m, &spec)
			cpu := spec.Spec.Resources.Requests["cpu"]
			switch {
			case m.Kind == "Cluster" && strings.HasPrefix(m.APIVersion, "postgresql.cnpg.io/"):
				requests[m.String()] = int64(spec.Spec.Instances) * cpu.MilliValue()
			case m.Kind == "RabbitmqCluster":
				requests[m.String()] = int64(spec.Spec.Replicas) * cpu.MilliValue()
			case m.Kind == "Broker":
				requests[m.String()+" ingress"] = annotatedCPU(t, m, upstreamIngressCPU)
			case m.Kind == "Trigger":
				pods := int64(1)
				if spec.Spec.Delivery != nil && spec.Spec.Delivery.DeadLetterSink != nil {
					pods++ // the dead-letter queue's own dispatcher
				}
				requests[m.String()+" dispatchers"] = pods * annotatedCPU(t, m, upstreamDispatcherCPU)
			case m.Kind == "Job":
				for owner, cpu := range jobCPU(t, m) {
					requests[owner] = cpu
				}
			}
		}
		var total int64
		for _, v := range requests {
			total += v
		}
		t.Logf("%d m requested; %d x %s leaves %d m for the shop", total, nodes, machine, capacity)
		if total > capacity {
			t.Errorf("the shop requests %d m CPU, the documented %d x %s leave %d m after the system's share", total, nodes, machine, capacity)
		}
	})
}

func annotatedCPU(t *testing.T, m manifest, fallback resource.Quantity) int64 {
	t.Helper()
	if v, ok := m.Metadata.Annotations["rabbitmq.eventing.knative.dev/cpu-request"]; ok {
		q, err := resource.ParseQuantity(v)
		if err != nil {
			t.Fatalf("%s: cpu-request %q: %v", m, v, err)
		}
		return q.MilliValue()
	}
	return fallback.MilliValue()
}

func jobCPU(t *testing.T, m manifest) map[string]int64 {
	t.Helper()
	out := map[string]int64{}
	for _, c := range jobPod(t, m).Containers {
		out[m.String()+" "+c.Name] = c.Resources.Requests.Cpu().MilliValue()
	}
	return out
}
