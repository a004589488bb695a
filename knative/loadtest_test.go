package knative

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
)

const (
	locustfile = "loadtest/locustfile.py"
	// workloadFile is the mixed workload both load clients run.
	workloadFile = "loadtest/workload.json"
)

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
			if workload, err := os.ReadFile(workloadFile); err != nil || cm.Data["workload.json"] != string(workload) {
				t.Errorf("ConfigMap locustfile does not hold %s, which the locustfile reads beside it (%v)", workloadFile, err)
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

// locustCalls are the requests written in the locustfile and the ops of the
// workload file it runs (whose URL is the route filled in).
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
	for _, op := range readWorkload(t).Ops {
		out = append(out, locustCall{op.Method, op.Route, op.Route})
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

// workload is knative/loadtest/workload.json: scenarios of steps, each
// step an op with a route.
type workload struct {
	About     string `json:"about"`
	Scenarios []struct {
		Name   string `json:"name"`
		Weight int    `json:"weight"`
		Steps  []struct {
			Op       string `json:"op"`
			Item     int    `json:"item"`
			MustFail bool   `json:"must_fail"`
		} `json:"steps"`
	} `json:"scenarios"`
	Ops map[string]struct {
		Method string              `json:"method"`
		Route  string              `json:"route"`
		Params map[string][2]int64 `json:"params"`
	} `json:"ops"`
}

func readWorkload(t *testing.T) workload {
	t.Helper()
	b, err := os.ReadFile(workloadFile)
	if err != nil {
		t.Fatal(err)
	}
	var w workload
	d := json.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	if err := d.Decode(&w); err != nil {
		t.Fatalf("%s: %v", workloadFile, err)
	}
	if len(w.Scenarios) == 0 {
		t.Fatalf("%s has no scenario", workloadFile)
	}
	return w
}

// TestLocustfileRunsTheWorkload: the locustfile's mixed user is the
// workload file, not a copy of it. The file is read beside the locustfile,
// and, run against a stand-in client (Locust itself is not installed here),
// each of its tasks is a scenario of the file with the file's weight that
// sends the file's ops in the file's order.
func TestLocustfileRunsTheWorkload(t *testing.T) {
	source, err := os.ReadFile(locustfile)
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`open\(os\.path\.join\(os\.path\.dirname\(os\.path\.abspath\(__file__\)\), "workload\.json"\)\)`).Match(source) {
		t.Errorf("%s does not read workload.json beside itself", locustfile)
	}
	w := readWorkload(t)
	type task struct {
		Weight   int      `json:"weight"`
		Requests []string `json:"requests"` // method and reported route
	}
	want := map[string]task{}
	for _, sc := range w.Scenarios {
		tk := task{Weight: sc.Weight}
		for _, st := range sc.Steps {
			op, ok := w.Ops[st.Op]
			if !ok {
				t.Fatalf("scenario %s: no op %q in %s", sc.Name, st.Op, workloadFile)
			}
			tk.Requests = append(tk.Requests, op.Method+" "+op.Route)
		}
		want[sc.Name] = tk
	}

	python, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 not installed: the locustfile's tasks are not run")
	}
	out, err := exec.Command(python, "-c", locustStandIn, locustfile).Output()
	if err != nil {
		t.Fatalf("running %s's tasks: %v\n%s", locustfile, err, out)
	}
	var got map[string]task
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("the locustfile's MixedUser tasks (-the workload file +the locustfile):\n%s", diff)
	}
}

// locustStandIn imports a locustfile with stand-ins for locust and requests,
// runs each task of MixedUser once against a client that answers every
// request with 200 and fresh IDs, and prints each task's weight and the
// requests it sent as JSON.
const locustStandIn = `
import importlib.util, json, sys, types

locust = types.ModuleType("locust")
locust.HttpUser = type("HttpUser", (), {})
locust.between = lambda low, high: None
locust.task = lambda *args, **kwargs: (lambda f: f)
locust.events = types.SimpleNamespace(test_start=types.SimpleNamespace(add_listener=lambda f: f))
runners = types.ModuleType("locust.runners")
runners.WorkerRunner = type("WorkerRunner", (), {})
sys.modules.update({"locust": locust, "locust.runners": runners, "requests": types.ModuleType("requests")})

spec = importlib.util.spec_from_file_location("locustfile", sys.argv[1])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)

sent = []

class Response:
    status_code = 200
    def json(self):
        return {"item_id": "item%d" % len(sent), "user_id": "user%d" % len(sent), "order_id": "order%d" % len(sent)}
    def success(self):
        pass
    def failure(self, message):
        pass
    def __enter__(self):
        return self
    def __exit__(self, *exc):
        return False

class Client:
    def request(self, method, url, name, catch_response):
        sent.append(method + " " + name)
        return Response()

user = module.MixedUser()
user.client = Client()
tasks = {}
for run, weight in module.MixedUser.tasks.items():
    sent.clear()
    run(user)
    tasks[run.__name__] = {"weight": weight, "requests": list(sent)}
print(json.dumps(tasks))
`

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
