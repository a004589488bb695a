// Package build compiles the cluster's parts from their published sources:
// each component is a small wrapper module under cluster/modules that pins
// one release (with the replaces the release's own go.mod needs), built with
// the Go toolchain into a cache outside the checkout, keyed by what went in.
package build

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/wdm-knative/webshop/cluster/internal/proc"
)

// Binary is one command of a component: its file name and Go package.
type Binary struct {
	Name    string
	Package string
}

// Component is one release built from one wrapper module.
type Component struct {
	Name     string // also the wrapper module's folder under cluster/modules
	Version  string
	Binaries []Binary
	LDFlags  string
}

// k8sVersion stamps the binaries: without it the API server reports
// v0.0.0-master and Knative's minimum-version check refuses it.
const k8sVersion = "v1.34.4"

// Components are the parts built here, in build order.
var Components = []Component{
	{Name: "kubernetes", Version: k8sVersion, LDFlags: "-X k8s.io/component-base/version.gitVersion=" + k8sVersion +
		" -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=34" +
		" -X k8s.io/component-base/version.gitTreeState=clean" +
		" -X k8s.io/client-go/pkg/version.gitVersion=" + k8sVersion,
		Binaries: bins("k8s.io/kubernetes/cmd/", "kube-apiserver", "kube-controller-manager", "kube-scheduler",
			"kubelet", "kube-proxy", "kubectl")},
	{Name: "knative", Version: "serving-v0.42.2-eventing-v0.42.3", Binaries: []Binary{
		{"serving-controller", "knative.dev/serving/cmd/controller"},
		{"serving-webhook", "knative.dev/serving/cmd/webhook"},
		{"serving-activator", "knative.dev/serving/cmd/activator"},
		{"serving-autoscaler", "knative.dev/serving/cmd/autoscaler"},
		{"serving-queue", "knative.dev/serving/cmd/queue"},
		{"eventing-controller", "knative.dev/eventing/cmd/controller"},
		{"eventing-webhook", "knative.dev/eventing/cmd/webhook"},
		{"eventing-jobsink", "knative.dev/eventing/cmd/jobsink"},
		{"eventing-mtping", "knative.dev/eventing/cmd/mtping"},
		{"eventing-apiserver-receive-adapter", "knative.dev/eventing/cmd/apiserver_receive_adapter"},
		{"eventing-mtchannel-broker", "knative.dev/eventing/cmd/mtchannel_broker"},
		{"eventing-broker-ingress", "knative.dev/eventing/cmd/broker/ingress"},
		{"eventing-broker-filter", "knative.dev/eventing/cmd/broker/filter"},
		{"eventing-imc-controller", "knative.dev/eventing/cmd/in_memory/channel_controller"},
		{"eventing-imc-dispatcher", "knative.dev/eventing/cmd/in_memory/channel_dispatcher"},
	}},
	{Name: "coredns", Version: "v1.15.0", Binaries: []Binary{{"coredns", "."}}},
	{Name: "traefik", Version: "v3.6.12", Binaries: []Binary{{"traefik", "github.com/traefik/traefik/v3/cmd/traefik"}}},
	// The only NetworkPolicy engine the module proxy serves that this
	// kernel can run (docs/cluster.md): iptables and ipsets, no BPF.
	{Name: "kube-router", Version: "v2.1.0", LDFlags: "-X github.com/cloudnativelabs/kube-router/v2/pkg/version.Version=v2.1.0",
		Binaries: []Binary{{"kube-router", "github.com/cloudnativelabs/kube-router/v2/cmd/kube-router"}}},
}

func bins(prefix string, names ...string) []Binary {
	out := make([]Binary, len(names))
	for i, n := range names {
		out[i] = Binary{n, prefix + n}
	}
	return out
}

// Builder builds components from the wrapper modules into the cache.
type Builder struct {
	Modules string // cluster/modules
	Cache   string // e.g. ~/.cache/wdm-cluster
	Log     *slog.Logger
}

// Dir is where a component's binaries are, for a given key.
func (b Builder) dir(c Component, key string) string {
	return filepath.Join(b.Cache, "bin", c.Name+"-"+c.Version+"-"+key[:12])
}

// Key is what a component's binaries depend on: its wrapper module's
// files, the Go version and the flags. A change to any rebuilds it.
func (b Builder) Key(ctx context.Context, c Component) (string, error) {
	h := sha256.New()
	modDir := filepath.Join(b.Modules, c.Name)
	entries, err := os.ReadDir(modDir)
	if err != nil {
		return "", fmt.Errorf("wrapper module %s: %w", c.Name, err)
	}
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		f, err := os.Open(filepath.Join(modDir, e.Name()))
		if err != nil {
			return "", err
		}
		fmt.Fprintf(h, "%s\n", e.Name())
		_, err = io.Copy(h, f)
		f.Close()
		if err != nil {
			return "", err
		}
	}
	goVersion, err := exec.CommandContext(ctx, "go", "env", "GOVERSION").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOVERSION: %w", err)
	}
	fmt.Fprintf(h, "%s|%s|%v", strings.TrimSpace(string(goVersion)), c.LDFlags, c.Binaries)
	return hex.EncodeToString(h.Sum(nil)), nil
}

// Build makes every binary of c unless the cache holds them for the same
// key, and returns the folder they are in.
func (b Builder) Build(ctx context.Context, c Component) (string, error) {
	key, err := b.Key(ctx, c)
	if err != nil {
		return "", err
	}
	dir := b.dir(c, key)
	stamp := filepath.Join(dir, ".built")
	if got, err := os.ReadFile(stamp); err == nil && string(got) == key {
		b.Log.Info("cached", "component", c.Name, "version", c.Version, "dir", dir)
		return dir, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	for i, bin := range c.Binaries {
		start := time.Now()
		b.Log.Info("go build", "component", c.Name, "binary", bin.Name, "of", fmt.Sprintf("%d/%d", i+1, len(c.Binaries)))
		args := []string{"build", "-trimpath", "-ldflags", strings.TrimSpace("-s -w " + c.LDFlags),
			"-o", filepath.Join(dir, bin.Name), bin.Package}
		cmd := exec.CommandContext(ctx, "go", args...)
		cmd.Dir = filepath.Join(b.Modules, c.Name)
		// Static binaries: they go into images with nothing else in them.
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=-mod=readonly -buildvcs=false")
		if out, err := cmd.CombinedOutput(); err != nil {
			return "", fmt.Errorf("go build %s (%s): %w\n%s", bin.Package, c.Name, err, proc.LastLines(out, 40))
		}
		b.Log.Info("built", "binary", bin.Name, "took", time.Since(start).Round(time.Second))
	}
	return dir, os.WriteFile(stamp, []byte(key), 0o644)
}

// Pause compiles Kubernetes' pause container (build/pause/linux/pause.c,
// shipped in the module zip) as a static binary.
func (b Builder) Pause(ctx context.Context, k8sModuleDir string) (string, error) {
	src := filepath.Join(k8sModuleDir, "build", "pause", "linux", "pause.c")
	code, err := os.ReadFile(src)
	if err != nil {
		return "", fmt.Errorf("pause source: %w", err)
	}
	sum := sha256.Sum256(code)
	key := hex.EncodeToString(sum[:])
	dir := filepath.Join(b.Cache, "bin", "pause-"+key[:12])
	out := filepath.Join(dir, "pause")
	if _, err := os.Stat(out); err == nil {
		return out, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	cmd := exec.CommandContext(ctx, "gcc", "-Os", "-static", "-DVERSION=v3.10-wdm", "-o", out+".tmp", src)
	if msg, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("gcc pause.c: %w\n%s", err, msg)
	}
	return out, os.Rename(out+".tmp", out)
}

// ModuleDir is where the Go module cache holds path@version, downloading
// it if needed (the Knative YAML and pause.c are read from there).
func (b Builder) ModuleDir(ctx context.Context, wrapper, path string) (string, error) {
	cmd := exec.CommandContext(ctx, "go", "list", "-m", "-f", "{{.Dir}}", path)
	cmd.Dir = filepath.Join(b.Modules, wrapper)
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod")
	out, err := cmd.Output()
	dir := strings.TrimSpace(string(out))
	if err != nil || dir == "" {
		// Not yet downloaded: ask for it, then list again.
		dl := exec.CommandContext(ctx, "go", "mod", "download", path)
		dl.Dir = cmd.Dir
		if msg, derr := dl.CombinedOutput(); derr != nil {
			return "", fmt.Errorf("go mod download %s: %w: %s", path, derr, msg)
		}
		return b.ModuleDir(ctx, wrapper, path)
	}
	return dir, nil
}
