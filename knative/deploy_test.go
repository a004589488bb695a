package knative

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// mustPrecede lists, per kind, the kinds whose readiness it needs at
// creation: they must be applied, and waited for, in an earlier phase.
var mustPrecede = map[string][]string{
	// A first revision reads its DSN secret (CloudNativePG writes it), gets
	// K_SINK from the SinkBinding, and serves a migrated schema.
	// On the local cluster the database is a StatefulSet, its secrets plain Secrets.
	"serving.knative.dev/v1 Service": {"postgresql.cnpg.io/v1 Cluster", "apps/v1 StatefulSet", "v1 Secret",
		"sources.knative.dev/v1 SinkBinding", "batch/v1 Job"},
	"batch/v1 Job":                           {"postgresql.cnpg.io/v1 Cluster", "apps/v1 StatefulSet", "v1 Secret"},
	"sources.knative.dev/v1 SinkBinding":     {"eventing.knative.dev/v1 Broker"},
	"eventing.knative.dev/v1 Trigger":        {"eventing.knative.dev/v1 Broker", "serving.knative.dev/v1 Service"},
	"sources.knative.dev/v1 PingSource":      {"eventing.knative.dev/v1 Broker"},
	"eventing.knative.dev/v1beta2 EventType": {"eventing.knative.dev/v1 Broker"},
	"eventing.knative.dev/v1 Broker":         {"v1 Namespace"},
}

// scriptPhases reads the phases knative/deploy.sh applies, in order.
func scriptPhases(t *testing.T) []string {
	t.Helper()
	data, err := os.ReadFile("deploy.sh")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, m := range regexp.MustCompile(`(?m)^phase (\S+)$`).FindAllStringSubmatch(string(data), -1) {
		out = append(out, m[1])
	}
	if len(out) == 0 {
		t.Fatal("deploy.sh applies no phase")
	}
	return out
}

// TestEveryResourceHasAnOrderedPhase: a resource without a phase label would
// never be applied by the script, and one applied no later than what it
// needs could start before it.
func TestEveryResourceHasAnOrderedPhase(t *testing.T) {
	phases := scriptPhases(t)
	forEachDeployable(t, func(t *testing.T, r rendered) {
		at := map[string]int{} // "apiVersion Kind" -> latest phase index of that kind
		earliest := map[string]int{}
		for _, m := range r.all {
			p := slices.Index(phases, m.Metadata.Labels[PhaseLabel])
			if p < 0 {
				t.Errorf("%s: phase %q is none of deploy.sh's %v", m, m.Metadata.Labels[PhaseLabel], phases)
				continue
			}
			kind := m.APIVersion + " " + m.Kind
			at[kind] = max(at[kind], p)
			if e, ok := earliest[kind]; !ok || p < e {
				earliest[kind] = p
			}
		}
		for kind, needs := range mustPrecede {
			if _, ok := earliest[kind]; !ok {
				continue
			}
			for _, need := range needs {
				if p, ok := at[need]; ok && p >= earliest[kind] {
					t.Errorf("%s is applied in phase %s, not after %s (phase %s)", kind, phases[earliest[kind]], need, phases[p])
				}
			}
		}
	})
}

// TestDeployScriptAppliesPhasesInOrder runs deploy.sh against a kubectl and
// a ko that only record their arguments: each phase is applied in order,
// each is waited for before the next, and the images are the built digests.
func TestDeployScriptAppliesPhasesInOrder(t *testing.T) {
	bin, work := t.TempDir(), t.TempDir()
	log := filepath.Join(bin, "calls")
	fake := func(name, body string) {
		script := "#!/bin/sh\necho \"" + name + " $*\" >>" + log + "\n" + body
		if err := os.WriteFile(filepath.Join(bin, name), []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	const digest = "sha256:1111111111111111111111111111111111111111111111111111111111111111"
	fake("ko", `echo "$KO_DOCKER_REPO@`+digest+`"`+"\n")
	fake("kubectl", "")
	cmd := exec.Command("bash", "deploy.sh", "bench")
	cmd.Env = append(os.Environ(), "PATH="+bin+":"+os.Getenv("PATH"), "KO_DOCKER_REPO=registry.example/shop", "WDM_DEPLOY_DIR="+work)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("deploy.sh: %v\n%s", err, out)
	}
	data, err := os.ReadFile(log)
	if err != nil {
		t.Fatal(err)
	}
	calls := strings.Split(strings.TrimSpace(string(data)), "\n")
	var applied []string
	waited := true
	for _, call := range calls {
		switch {
		case strings.HasPrefix(call, "kubectl apply"):
			m := regexp.MustCompile(`-k (\S+) -l ` + regexp.QuoteMeta(PhaseLabel) + `=(\S+)$`).FindStringSubmatch(call)
			if m == nil || m[1] != work {
				t.Fatalf("apply %q: want -k %s -l %s=PHASE", call, work, PhaseLabel)
			}
			if !waited {
				t.Errorf("phase %s applied before %s was waited for", m[2], applied[len(applied)-1])
			}
			applied, waited = append(applied, m[2]), false
		case strings.HasPrefix(call, "kubectl") && strings.Contains(call, " wait "):
			waited = true
		}
	}
	if !waited {
		t.Errorf("the last phase is not waited for")
	}
	if want := scriptPhases(t); !slices.Equal(applied, want) {
		t.Errorf("applied phases %v, want %v", applied, want)
	}
	if !slices.Contains(calls, "ko build --bare ./cmd/function") || !slices.Contains(calls, "ko build --bare ./cmd/migrate") {
		t.Errorf("images not built with ko: %v", calls)
	}
	// Every image the overlay leaves as a placeholder runs what ko built.
	placeholders := podImages(t, render(t, deployable{dir: "overlays/bench"}))
	built := podImages(t, render(t, deployable{dir: work}))
	replaced := 0
	for owner, image := range placeholders {
		if !strings.HasPrefix(image, "europe-west4-docker.pkg.dev/my-project/webshop/") {
			continue
		}
		replaced++
		if got := built[owner]; !strings.HasPrefix(got, "registry.example/shop/") || !strings.HasSuffix(got, "@"+digest) {
			t.Errorf("%s runs %s, not the image just built", owner, got)
		}
	}
	if replaced == 0 {
		t.Error("the overlay has no placeholder image to replace")
	}
}
