package knative

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

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

type funcEnv struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

func TestFuncYAMLMatchesFuncSchema(t *testing.T) {
	data, err := os.ReadFile("../func.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var f funcYAML
	if err := yaml.UnmarshalStrict(data, &f); err != nil {
		t.Fatalf("func.yaml does not fit func's schema: %v", err)
	}
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
		{"carries the SinkBinding's label", slices.ContainsFunc(f.Deploy.Labels, func(l struct {
			Key   string `json:"key"`
			Value string `json:"value,omitempty"`
		}) bool {
			return l.Key == SinkLabel && l.Value == "broker"
		})},
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

// TestFuncScaffoldingBuildsAgainstTheRootFunction builds, in a module of its
// own, a main like func's scaffolding with the repository as the replaced
// function module: what `func build` does in its builder image.
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
	if module == nil || goVersion == nil {
		t.Fatal("go.mod has no module or go line")
	}
	dir := t.TempDir()
	files := map[string]string{
		"go.mod": "module scaffold\n\ngo " + string(goVersion[1]) + "\n\n" +
			"require " + string(module[1]) + " v0.0.0-00010101000000-000000000000\n\n" +
			"replace " + string(module[1]) + " => " + root + "\n",
		"main.go": strings.ReplaceAll(scaffoldMain, "MODULE", string(module[1])),
	}
	sum, err := os.ReadFile(filepath.Join(root, "go.sum"))
	if err != nil {
		t.Fatal(err)
	}
	files["go.sum"] = string(sum)
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command("go", "build", "-o", filepath.Join(dir, "function"), ".")
	cmd.Dir = dir
	// The root module's go.sum covers its dependencies; -mod=mod lets go
	// fill in the scaffold's indirect requirements as func's builder does.
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod -buildvcs=false", "GOWORK=off")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("scaffolded function does not build: %v\n%s", err, out)
	}
}
