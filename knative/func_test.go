package knative

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/yaml"

	"github.com/wdm-knative/webshop/internal/operation"
)

// funcYAML mirrors Knative func's func.yaml schema (schema/func_yaml-schema.json,
// specVersion 0.36): every object there has additionalProperties false, so
// strict decoding into this mirror rejects what func would reject.
type funcYAML struct {
	SpecVersion string `json:"specVersion"`
	Name        string `json:"name"`
	Domain      string `json:"domain,omitempty"`
	Runtime     string `json:"runtime"`
	Registry    string `json:"registry,omitempty"`
	Image       string `json:"image,omitempty"`
	Namespace   string `json:"namespace,omitempty"`
	Created     string `json:"created"`
	Invoke      string `json:"invoke,omitempty"`
	Build       struct {
		Builder    string    `json:"builder,omitempty"`
		BuildEnvs  []funcEnv `json:"buildEnvs,omitempty"`
		Buildpacks []string  `json:"buildpacks,omitempty"`
	} `json:"build"`
	Run struct {
		Envs []funcEnv `json:"envs,omitempty"`
	} `json:"run"`
	Deploy struct {
		Namespace   string            `json:"namespace,omitempty"`
		Image       string            `json:"image,omitempty"`
		Annotations map[string]string `json:"annotations,omitempty"`
		Labels      []struct {
			Key   string `json:"key"`
			Value string `json:"value,omitempty"`
		} `json:"labels,omitempty"`
		HealthEndpoints struct {
			Liveness  string `json:"liveness,omitempty"`
			Readiness string `json:"readiness,omitempty"`
		} `json:"healthEndpoints"`
		ServiceAccountName string `json:"serviceAccountName,omitempty"`
		Options            struct {
			Scale struct {
				Min         *int     `json:"min,omitempty"`
				Max         *int     `json:"max,omitempty"`
				Metric      string   `json:"metric,omitempty"`
				Target      *float64 `json:"target,omitempty"`
				Utilization *float64 `json:"utilization,omitempty"`
			} `json:"scale"`
			Resources struct {
				Requests map[string]string `json:"requests,omitempty"`
				Limits   map[string]any    `json:"limits,omitempty"`
			} `json:"resources"`
		} `json:"options"`
	} `json:"deploy"`
}

// label is the value of one of deploy.labels.
func (f funcYAML) label(key string) string {
	for _, l := range f.Deploy.Labels {
		if l.Key == key {
			return l.Value
		}
	}
	return ""
}

func readFuncYAML(t *testing.T) funcYAML {
	t.Helper()
	data, err := os.ReadFile("../func.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var f funcYAML
	if err := yaml.UnmarshalStrict(data, &f); err != nil {
		t.Fatalf("func.yaml does not fit func's schema: %v", err)
	}
	return f
}

type funcEnv struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

func TestFuncYAMLMatchesFuncSchema(t *testing.T) {
	f := readFuncYAML(t)
	checks := []struct {
		name string
		ok   bool
	}{
		{"specVersion and created are set (required)", f.SpecVersion != "" && f.Created != ""},
		{"name is a DNS label", regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`).MatchString(f.Name)},
		{"runtime is go", f.Runtime == "go"},
		{"builder is pack or s2i", slices.Contains([]string{"pack", "s2i"}, f.Build.Builder)},
		{"invoke is http or cloudevent", slices.Contains([]string{"", "http", "cloudevent"}, f.Invoke)},
		{"scale metric is concurrency or rps", slices.Contains([]string{"", "concurrency", "rps"}, f.Deploy.Options.Scale.Metric)},
		{"health endpoints are the function's", f.Deploy.HealthEndpoints.Liveness == LivenessPath && f.Deploy.HealthEndpoints.Readiness == ReadinessPath},
		{"deploys into the shop's namespace", f.Deploy.Namespace == Namespace},
		{"carries the SinkBinding's label", f.label(SinkLabel) == "broker"},
	}
	for _, c := range checks {
		if !c.ok {
			t.Errorf("func.yaml: want %s", c.name)
		}
	}
	s := f.Deploy.Options.Scale
	if s.Min != nil && s.Max != nil && *s.Min > *s.Max {
		t.Errorf("scale min %d > max %d", *s.Min, *s.Max)
	}
	env := map[string]string{}
	envName := regexp.MustCompile(`^[-._a-zA-Z][-._a-zA-Z0-9]*$`)
	for _, e := range append(f.Run.Envs, f.Build.BuildEnvs...) {
		if !envName.MatchString(e.Name) {
			t.Errorf("env name %q does not fit func's pattern", e.Name)
		}
		env[e.Name] = e.Value
	}
	if _, err := operation.Select(env["FUNCTION"]); err != nil {
		t.Errorf("FUNCTION=%q: %v", env["FUNCTION"], err)
	}
	for _, d := range []operation.Domain{operation.Order, operation.Stock, operation.Payment} {
		want := "{{ secret:" + AppSecret(DatabaseCluster(d)) + ":uri }}"
		if env[DSNVariable(d)] != want {
			t.Errorf("%s=%q, want %q (func's secret reference)", DSNVariable(d), env[DSNVariable(d)], want)
		}
	}
}

// scaffoldMain is what Knative func's Go "instanced-http" scaffolding does
// with the root package (it imports the function module by its path and
// hands New() to knative.dev/func-go/http.Start). func-go is not served by
// the module proxy here, so its instance interfaces (http/instance.go) are
// restated, and the compile-time assertions require the root function to
// implement every optional one: Start, Stop, Ready and Alive.
const scaffoldMain = `package main

import (
	"context"
	"net/http"

	f "MODULE"
)

type handler interface {
	Handle(http.ResponseWriter, *http.Request)
}
type starter interface {
	Start(context.Context, map[string]string) error
}
type stopper interface {
	Stop(context.Context) error
}
type readinessReporter interface {
	Ready(context.Context) (bool, error)
}
type livenessReporter interface {
	Alive(context.Context) (bool, error)
}

var (
	_ handler           = f.New()
	_ starter           = f.New()
	_ stopper           = f.New()
	_ readinessReporter = f.New()
	_ livenessReporter  = f.New()
)

func main() {
	instance := f.New()
	mux := http.NewServeMux()
	mux.HandleFunc("/health/readiness", func(w http.ResponseWriter, r *http.Request) {
		if ok, err := instance.Ready(r.Context()); !ok || err != nil {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	})
	mux.HandleFunc("/health/liveness", func(w http.ResponseWriter, r *http.Request) {
		if ok, err := instance.Alive(r.Context()); !ok || err != nil {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	})
	mux.HandleFunc("/", instance.Handle)
	if err := instance.Start(context.Background(), map[string]string{}); err != nil {
		panic(err)
	}
	defer instance.Stop(context.Background())
	_ = http.ListenAndServe(":8080", mux)
}
`

// TestFuncDeployIsClusterLocalAsDocumented: the Service `func deploy`
// creates is what the README says it is. It must be cluster-local (else
// Kourier's public listener serves its /events/* paths), fall under the
// function pods' NetworkPolicy, and get K_SINK from the SinkBinding; and the
// README must say it is one cluster-local Service beside the deployed shop,
// not a shop of its own.
func TestFuncDeployIsClusterLocalAsDocumented(t *testing.T) {
	f := readFuncYAML(t)
	if v := f.label("networking.knative.dev/visibility"); v != "cluster-local" {
		t.Errorf("func deploy gives a public Service (visibility label %q)", v)
	}
	podLabels := map[string]string{}
	for _, l := range f.Deploy.Labels {
		podLabels[l.Key] = l.Value
	}
	r := render(t, deployable{dir: "base"})
	isolated, allowed := admitted(t, r.policies, f.Deploy.Namespace, podLabels, 8012,
		peer{namespace: "default", labels: map[string]string{"app": "curl"}})
	if !isolated || allowed {
		t.Errorf("a stranger pod may reach the func-deployed pods (isolated %v, allowed %v)", isolated, allowed)
	}
	bindings := ofKind(r.all, "sources.knative.dev/v1", "SinkBinding")
	if len(bindings) != 1 {
		t.Fatalf("%d SinkBindings", len(bindings))
	}
	var sb struct {
		Spec struct {
			Subject struct {
				Selector metav1.LabelSelector `json:"selector"`
			} `json:"subject"`
		} `json:"spec"`
	}
	decodeLoose(t, bindings[0], &sb)
	if sel, err := metav1.LabelSelectorAsSelector(&sb.Spec.Subject.Selector); err != nil || !sel.Matches(labels.Set(podLabels)) {
		t.Errorf("the SinkBinding does not select the func-deployed Service (labels %v): it would start without K_SINK", podLabels)
	}

	section := readmeSection(t, "Knative deployment")
	var claims []string
	for _, sentence := range regexp.MustCompile(`[^.]*\x60func deploy\x60[^.]*\.`).FindAllString(section, -1) {
		claims = append(claims, strings.Join(strings.Fields(sentence), " "))
	}
	if len(claims) == 0 {
		t.Fatal("the README's Knative section says nothing about `func deploy`")
	}
	text := strings.Join(claims, " ")
	if !strings.Contains(text, "cluster-local") {
		t.Errorf("the README does not say `func deploy` gives a cluster-local Service: %q", text)
	}
	for _, overclaim := range []string{"whole shop", "quick try", "public"} {
		if strings.Contains(text, overclaim) {
			t.Errorf("the README says `func deploy` gives %q: %q", overclaim, text)
		}
	}
}

// TestFuncIgnoresLocalState: func's build context leaves out .wdm/ (local
// servers' data, unreadable by others) but keeps .func/build, the
// scaffolding that pack (BP_GO_WORKDIR) and s2i compile; git ignores .func/.
func TestFuncIgnoresLocalState(t *testing.T) {
	patterns := func(path string) []string {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, line := range strings.Split(string(data), "\n") {
			line = strings.TrimSpace(line)
			if line != "" && !strings.HasPrefix(line, "#") {
				out = append(out, strings.Trim(line, "/"))
			}
		}
		return out
	}
	cases := []struct {
		file, dir string
	}{
		{"../.funcignore", ".wdm"},
		{"../.funcignore", ".git"},
		{"../.gitignore", ".func"},
		{"../.gitignore", ".wdm"},
	}
	for _, c := range cases {
		t.Run(c.file+" "+c.dir, func(t *testing.T) {
			if !slices.Contains(patterns(c.file), c.dir) {
				t.Errorf("%s does not ignore %s/", c.file, c.dir)
			}
		})
	}
	for _, p := range patterns("../.funcignore") {
		if slices.Contains([]string{".func", ".func/build", ".func/*", ".func/**"}, p) {
			t.Errorf(".funcignore pattern %q leaves the scaffolding in .func/build out of the build", p)
		}
	}
}

// TestFuncScaffoldingBuildsAgainstTheRootFunction builds what func >= 1.22's
// Go scaffolding generates for this function, in its builder image: a main
// module in .func/build with a link f to the function's root, a go.mod that
// requires the function by its real module path (replaced by ./f), takes the
// function's Go version, and merges the function's requirements and go.sum.
// The build runs with -mod=readonly, as the builder does: a requirement or
// a go.sum line the merge does not carry fails it.
func TestFuncScaffoldingBuildsAgainstTheRootFunction(t *testing.T) {
	if testing.Short() {
		t.Skip("compiles the root function package")
	}
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	gomod, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	module := regexp.MustCompile(`(?m)^module\s+(\S+)`).FindSubmatch(gomod)
	goVersion := regexp.MustCompile(`(?m)^go\s+(\S+)`).FindSubmatch(gomod)
	requires := regexp.MustCompile(`(?ms)^require \(.*?^\)|^require [^(\n][^\n]*`).FindAll(gomod, -1)
	if module == nil || goVersion == nil || len(requires) == 0 {
		t.Fatal("go.mod has no module, go or require line")
	}
	sum, err := os.ReadFile(filepath.Join(root, "go.sum"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.Symlink(root, filepath.Join(dir, "f")); err != nil {
		t.Fatal(err)
	}
	files := map[string]string{
		"go.mod": "module s\n\ngo " + string(goVersion[1]) + "\n\n" +
			"require " + string(module[1]) + " v0.0.0-00010101000000-000000000000\n\n" +
			string(bytes.Join(requires, []byte("\n\n"))) + "\n\n" +
			"replace " + string(module[1]) + " => ./f\n",
		"go.sum":  string(sum),
		"main.go": strings.ReplaceAll(scaffoldMain, "MODULE", string(module[1])),
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command("go", "build", "-o", filepath.Join(dir, "function"), ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=readonly -buildvcs=false", "GOWORK=off", "GOTOOLCHAIN=local")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("scaffolded function does not build: %v\n%s", err, out)
	}
}
