package knative

import (
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
)

const locustfile = "loadtest/locustfile.py"

// TestLoadtestKustomizationRenders: Locust's master and workers render, run
// on their own node pool in their own namespace, find each other, mount the
// project's locustfile and run one of its user classes.
func TestLoadtestKustomizationRenders(t *testing.T) {
	ms := build(t, "loadtest")
	source, err := os.ReadFile(locustfile)
	if err != nil {
		t.Fatal(err)
	}
	classes := locustUserClasses(t, string(source))
	deployments := map[string]appsv1.Deployment{}
	var master corev1.Service
	for _, m := range ms {
		switch {
		case m.Kind == "Deployment":
			var d appsv1.Deployment
			decodeStrict(t, m, &d)
			deployments[d.Name] = d
		case m.Kind == "Service" && m.Metadata.Name == "locust-master":
			decodeStrict(t, m, &master)
		case m.Kind == "ConfigMap" && m.Metadata.Name == "locustfile":
			var cm corev1.ConfigMap
			decodeStrict(t, m, &cm)
			if cm.Data["locustfile.py"] != string(source) {
				t.Errorf("ConfigMap locustfile does not hold %s", locustfile)
			}
		case m.Kind == "ConfigMap" && m.Metadata.Name == "locust-settings":
			var cm corev1.ConfigMap
			decodeStrict(t, m, &cm)
			if c := cm.Data["LOCUST_USER_CLASSES"]; !slices.Contains(classes, c) {
				t.Errorf("LOCUST_USER_CLASSES=%q, not one of the locustfile's %v", c, classes)
			}
		case m.Kind == "PodMonitoring":
			crdOnce.Do(func() { crdSchemas, crdErr = loadCRDs() })
			if crdErr != nil {
				t.Fatalf("CRDs: %v", crdErr)
			}
			for _, err := range validateAgainstCRD(m, crdSchemas[m.APIVersion+" "+m.Kind]) {
				t.Errorf("%s: %v", m, err)
			}
			continue
		}
		if m.Kind != "Namespace" && m.Metadata.Namespace != "loadtest" {
			t.Errorf("%s in namespace %q, want loadtest", m, m.Metadata.Namespace)
		}
	}
	workerPort := int32(0)
	for _, p := range master.Spec.Ports {
		if p.Name == "workers" {
			workerPort = p.Port
		}
	}
	for _, name := range []string{"locust-master", "locust-worker"} {
		d, ok := deployments[name]
		if !ok {
			t.Fatalf("no Deployment %s", name)
		}
		spec := d.Spec.Template.Spec
		if spec.NodeSelector["webshop.wdm/pool"] != "locust" || !slices.ContainsFunc(spec.Tolerations, func(tl corev1.Toleration) bool {
			return tl.Key == "webshop.wdm/pool" && tl.Value == "locust" && tl.Effect == corev1.TaintEffectNoSchedule
		}) {
			t.Errorf("%s does not run on (and only tolerate) the locust node pool", name)
		}
		args := strings.Join(spec.Containers[0].Args, " ")
		if !strings.Contains(args, "-f /locust/locustfile.py") {
			t.Errorf("%s runs %q, not the mounted locustfile", name, args)
		}
		if name == "locust-worker" {
			want := "--master-host " + master.Name + " --master-port " + strconv.Itoa(int(workerPort))
			if workerPort == 0 || !strings.Contains(args, want) {
				t.Errorf("worker args %q, want %q (the master Service)", args, want)
			}
		}
	}
}

// locustUserClasses lists the HttpUser classes of a locustfile.
func locustUserClasses(t *testing.T, source string) []string {
	t.Helper()
	var out []string
	for _, m := range regexp.MustCompile(`(?m)^class (\w+)\(HttpUser\):`).FindAllStringSubmatch(source, -1) {
		out = append(out, m[1])
	}
	if len(out) == 0 {
		t.Fatal("the locustfile defines no HttpUser")
	}
	return out
}

// locustCall is one request the locustfile sends: method, the URL it
// builds and the API.md route it reports it under.
type locustCall struct{ method, url, route string }

func locustCalls(t *testing.T) []locustCall {
	t.Helper()
	source, err := os.ReadFile(locustfile)
	if err != nil {
		t.Fatal(err)
	}
	var out []locustCall
	for _, m := range regexp.MustCompile(`"(GET|POST|DELETE|PUT)",\s*f?"([^"]+)",\s*"([^"]+)"`).FindAllStringSubmatch(string(source), -1) {
		out = append(out, locustCall{m[1], m[2], m[3]})
	}
	if len(out) == 0 {
		t.Fatal("no requests found in the locustfile")
	}
	return out
}

// TestLocustfileRoutesMatchAPI: every request the locustfile sends is a
// route of API.md, its URL has that route's shape, and both workloads are
// there: the 2023 scenarios and the 2024 batch_init-then-checkout.
func TestLocustfileRoutesMatchAPI(t *testing.T) {
	api := apiRoutes(t, apiDoc)
	calls := locustCalls(t)
	sent := map[string]bool{}
	for _, c := range calls {
		route := c.method + " " + c.route
		sent[route] = true
		if !slices.Contains(api, route) {
			t.Errorf("the locustfile sends %s, which API.md does not list", route)
		}
		urlSegs, routeSegs := strings.Split(c.url, "/"), strings.Split(c.route, "/")
		if len(urlSegs) != len(routeSegs) {
			t.Errorf("%s builds %s: a different shape", route, c.url)
			continue
		}
		for i := range urlSegs {
			wild := strings.HasPrefix(routeSegs[i], "{")
			if wild != strings.HasPrefix(urlSegs[i], "{") || (!wild && urlSegs[i] != routeSegs[i]) {
				t.Errorf("%s builds %s: segment %q for %q", route, c.url, urlSegs[i], routeSegs[i])
			}
		}
	}
	for _, want := range []string{
		// 2024: the three batch_inits, then checkouts.
		"POST /stock/batch_init/{n}/{starting_stock}/{item_price}",
		"POST /payment/batch_init/{n}/{starting_money}",
		"POST /orders/batch_init/{n}/{n_items}/{n_users}/{item_price}",
		"POST /orders/checkout/{order_id}",
		// 2023: the scenarios make their own items, users and orders.
		"POST /stock/item/create/{price}", "POST /stock/add/{item_id}/{amount}",
		"POST /payment/create_user", "POST /payment/add_funds/{user_id}/{amount}",
		"POST /orders/create/{user_id}", "POST /orders/addItem/{order_id}/{item_id}",
		"DELETE /orders/removeItem/{order_id}/{item_id}",
	} {
		if !sent[want] {
			t.Errorf("the locustfile never sends %s", want)
		}
	}
	source, _ := os.ReadFile(locustfile)
	classes := locustUserClasses(t, string(source))
	for _, c := range []string{"MixedUser", "CheckoutUser"} {
		if !slices.Contains(classes, c) {
			t.Errorf("no user class %s", c)
		}
	}
}

// TestLocustfileCompiles byte-compiles the locustfile (Locust itself is not
// installed here; the syntax is what can be checked offline).
func TestLocustfileCompiles(t *testing.T) {
	python, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 not installed: the locustfile's syntax is not checked")
	}
	out, err := exec.Command(python, "-c", "import ast,sys; ast.parse(open(sys.argv[1]).read(), sys.argv[1])", locustfile).CombinedOutput()
	if err != nil {
		t.Errorf("%s: %v\n%s", locustfile, err, out)
	}
}

// TestAutoscalingDashboard: the panel of ready pods per Service sits next to
// the request rate, over series the cluster exports.
func TestAutoscalingDashboard(t *testing.T) {
	dash := readDashboard(t, "loadtest/autoscaling-dashboard.json")
	find := func(series string) (x, y int, ok bool) {
		for _, p := range dash.Panels {
			for _, q := range p.Targets {
				if strings.Contains(q.Expr, series) {
					return p.GridPos.X, p.GridPos.Y, true
				}
			}
		}
		return 0, 0, false
	}
	px, py, pods := find(`autoscaler_actual_pods{namespace_name="` + Namespace + `"}`)
	rx, ry, rate := find("rate(wdm_http_requests_total")
	if !pods || !rate {
		t.Fatalf("want a ready-pods panel (%v) and a request-rate panel (%v)", pods, rate)
	}
	if py != ry || px == rx {
		t.Errorf("ready pods at (%d,%d), request rate at (%d,%d): not side by side", px, py, rx, ry)
	}
	if dash.UID == "" {
		t.Error("no uid")
	}
}
