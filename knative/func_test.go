package knative

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/yaml"

	"github.com/wdm-knative/webshop/internal/operation"
	"github.com/wdm-knative/webshop/knative/funcscaffold"
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

// readFuncYAML reads func.yaml, which must fit func's schema.
func readFuncYAML(t *testing.T) funcYAML {
	t.Helper()
	return readFile[funcYAML](t, "../func.yaml", yaml.UnmarshalStrict)
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

// TestFuncDeployIsClusterLocalAsDocumented: the Service `func deploy`
// creates is what the deployment guide says it is. It must be cluster-local (else
// Kourier's public listener serves its /events/* paths), fall under the
// function pods' NetworkPolicy, and get K_SINK from the SinkBinding; and the
// guide must say it is one cluster-local Service beside the deployed shop,
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

	section := guideSection(t, "Knative deployment")
	var claims []string
	for _, sentence := range regexp.MustCompile(`[^.]*\x60func deploy\x60[^.]*\.`).FindAllString(section, -1) {
		claims = append(claims, strings.Join(strings.Fields(sentence), " "))
	}
	if len(claims) == 0 {
		t.Fatal("the deployment guide's Knative section says nothing about `func deploy`")
	}
	text := strings.Join(claims, " ")
	if !strings.Contains(text, "cluster-local") {
		t.Errorf("the deployment guide does not say `func deploy` gives a cluster-local Service: %q", text)
	}
	for _, overclaim := range []string{"whole shop", "quick try", "public"} {
		if strings.Contains(text, overclaim) {
			t.Errorf("the deployment guide says `func deploy` gives %q: %q", overclaim, text)
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

// TestFuncScaffoldingBuildsAgainstTheRootFunction builds what func's Go
// scaffolding generates for this function, the way func.yaml's builder
// compiles it.
//
// From 1.21 on, func copies its instanced-http scaffolding (funcscaffold) into
// .func/build, links f there to the function's root and edits go.mod with
// golang.org/x/mod/modfile (pkg/scaffolding/scaffold.go): the function's go
// version, and its real module path required and replaced by ./f where the
// template has "function"; main.go imports that path. 1.21 carries nothing
// else over (knative/func#3431), so go build fetches this module's
// checksums from the checksum database, as it would in the builder.
// knative/func#3436, merged after 1.21 was released, also adds the
// function's requirements whose paths the template does not already
// require, and appends its go.sum. Both layouts are built.
//
// Neither builds as generated: the template requires golang.org/x/sys
// v0.18.0 and go-isatty v0.0.20, #3436 keeps them, and this module needs
// newer ones, so go.mod is stale ("updates to go.mod needed"). func's host
// and s2i builders run go mod tidy first. func.yaml's pack builder does
// not: Paketo's go-build runs the commands below in .func/build
// (BP_GO_WORKDIR) with func.yaml's build envs, whose GOFLAGS=-mod=mod lets
// go build settle go.mod from the module graph. (go-mod-vendor runs go mod
// vendor at the context's root, on this module's own go.mod.)
func TestFuncScaffoldingBuildsAgainstTheRootFunction(t *testing.T) {
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	fn, err := funcscaffold.ReadModule(t.Context(), root)
	if err != nil {
		t.Fatal(err)
	}
	// What go-build sets, then func.yaml's build envs.
	buildEnv := []string{"GO111MODULE=auto"}
	for _, e := range readFuncYAML(t).Build.BuildEnvs {
		buildEnv = append(buildEnv, e.Name+"="+e.Value)
	}

	for _, c := range []struct {
		name  string
		merge bool
	}{
		{"func 1.21", false},
		{"func with knative/func#3436", true},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := funcScaffold(t, root, fn, c.merge)

			out, err := funcscaffold.Command(t.Context(), dir, []string{"GOFLAGS=-mod=readonly"}, "build", "-o", os.DevNull, ".").CombinedOutput()
			if err == nil || !bytes.Contains(out, []byte("updates to go.mod needed")) {
				t.Errorf("want the generated go.mod stale under -mod=readonly (what GOFLAGS in func.yaml is for), got err %v:\n%s", err, out)
			}

			sum, err := os.ReadFile(filepath.Join(dir, "go.sum"))
			if err != nil {
				t.Fatal(err)
			}
			for _, args := range [][]string{
				{"build", "-o", filepath.Join(dir, "bin"), "-buildmode", "pie", "-trimpath", "."},
				{"list", "--json", "."},
			} {
				if out, err := funcscaffold.Command(t.Context(), dir, buildEnv, args...).CombinedOutput(); err != nil {
					t.Fatalf("go %s with func.yaml's build envs %v: %v\n%s", strings.Join(args, " "), buildEnv, err, out)
				}
			}
			after, err := os.ReadFile(filepath.Join(dir, "go.sum"))
			if err != nil {
				t.Fatal(err)
			}
			if c.merge && !bytes.Equal(sum, after) {
				t.Error("go build added to the merged go.sum: the merge no longer carries every checksum")
			}
		})
	}
}

// funcScaffold writes func's scaffolding for the function at root
// (funcscaffold.Write), plus funcLifecycle beside its main.
func funcScaffold(t *testing.T, root string, fn funcscaffold.Module, merge bool) string {
	t.Helper()
	dir := t.TempDir()
	if err := funcscaffold.Write(t.Context(), dir, root, fn, merge); err != nil {
		t.Fatal(err)
	}
	lifecycle := strings.ReplaceAll(funcLifecycle, "MODULE", fn.Module.Path)
	if err := os.WriteFile(filepath.Join(dir, "lifecycle.go"), []byte(lifecycle), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// funcLifecycle is not func's. Built beside its main, it requires the root
// function to implement every optional func-go interface, which http.Start
// otherwise only looks for at run time, silently skipping a missing one.
const funcLifecycle = `package main

import (
	"knative.dev/func-go/http"

	f "MODULE"
)

var (
	_ http.Handler           = f.New()
	_ http.Starter           = f.New()
	_ http.Stopper           = f.New()
	_ http.ReadinessReporter = f.New()
	_ http.LivenessReporter  = f.New()
)
`
