// Package phases brings a cluster up as a list of small phases (build,
// images, node, control plane, addons, Knative, forward, ready), each with
// its own status line and error, and takes it down again. A phase that fails
// says so in the failing component's own log lines.
package phases

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/wdm-knative/webshop/cluster/internal/build"
	"github.com/wdm-knative/webshop/cluster/internal/kube"
	"github.com/wdm-knative/webshop/cluster/internal/netns"
	"github.com/wdm-knative/webshop/cluster/internal/node"
	"github.com/wdm-knative/webshop/cluster/internal/proc"
)

// Options are what cluster-up is told.
type Options struct {
	Dir         string // state; removed by Down
	Cache       string // builds and images, kept across clusters
	Modules     string // cluster/modules
	APIPort     int    // on 127.0.0.1: the API server, forwarded
	IngressPort int    // on 127.0.0.1: Traefik's public entry point, forwarded
	LocalPort   int    // on 127.0.0.1: Traefik's cluster-local entry point, forwarded
	Self        string // this program, for the forwarders
	Log         *slog.Logger
}

// Info is what a running cluster tells its clients (cluster.json).
type Info struct {
	Kubeconfig     string            `json:"kubeconfig"`       // for the host, through APIAddress
	APIAddress     string            `json:"apiAddress"`       // 127.0.0.1:port
	Ingress        string            `json:"ingress"`          // 127.0.0.1:port, public routes
	IngressLocal   string            `json:"ingressLocal"`     // 127.0.0.1:port, cluster-local routes
	NetNS          string            `json:"netns"`            // run clients inside it with nsenter
	NodeIP         string            `json:"nodeIP"`           //
	Kubectl        string            `json:"kubectl"`          // the kubectl built here
	ContainerdSock string            `json:"containerdSocket"` // for ctr images import
	ContainerdLog  string            `json:"containerdLog"`    // where a pull would show
	Images         map[string]string `json:"images"`           // what cluster-up imported
	Domain         string            `json:"domain"`           // Knative's public domain
	Cache          string            `json:"cache"`
}

// InfoFile is cluster.json in a state folder.
func InfoFile(dir string) string { return filepath.Join(dir, "cluster.json") }

// ReadInfo reads a running cluster's cluster.json.
func ReadInfo(dir string) (Info, error) {
	var i Info
	b, err := os.ReadFile(InfoFile(dir))
	if err != nil {
		return i, fmt.Errorf("no cluster at %s (run make cluster-up): %w", dir, err)
	}
	return i, json.Unmarshal(b, &i)
}

// Domain is the public domain Knative routes under.
const Domain = "example.com"

// run is the state the phases share.
type run struct {
	Options
	layout node.Layout
	ns     netns.Namespace
	procs  proc.Dir
	bins   map[string]string // component -> folder of binaries
	images map[string]string // short name -> reference
	tars   map[string]string // reference -> image tarball
	kube   kube.Client
	http   *http.Client
}

type phase struct {
	name string
	run  func(context.Context, *run) error
}

var upPhases = []phase{
	{"host", installHost},
	{"build", buildParts},
	{"images", assembleImages},
	{"node", startNode},
	{"control plane", startControlPlane},
	{"addons", startAddons},
	{"knative", startKnative},
	{"forward", startForwarders},
	{"ready", checkReady},
}

// Up builds what is missing and brings the cluster up, phase by phase.
func Up(ctx context.Context, o Options) error {
	r := newRun(o)
	if r.ns.Exists() {
		return fmt.Errorf("a cluster is already up (network namespace %s): run make cluster-down first", r.ns.Name)
	}
	start := time.Now()
	for i, p := range upPhases {
		t := time.Now()
		o.Log.Info("phase", "n", fmt.Sprintf("%d/%d", i+1, len(upPhases)), "name", p.name)
		if err := p.run(ctx, r); err != nil {
			return fmt.Errorf("phase %s: %w", p.name, err)
		}
		o.Log.Info("phase done", "name", p.name, "took", time.Since(t).Round(100*time.Millisecond))
	}
	o.Log.Info("cluster up", "took", time.Since(start).Round(time.Second), "kubeconfig", r.layout.HostKubeconfig(),
		"ingress", fmt.Sprintf("127.0.0.1:%d", o.IngressPort))
	return nil
}

func newRun(o Options) *run {
	l := node.Default(o.Dir)
	ns := netns.Namespace{Name: l.NetNS}
	return &run{
		Options: o,
		layout:  l,
		ns:      ns,
		procs:   proc.Dir(o.Dir),
		bins:    map[string]string{},
		images:  map[string]string{},
		tars:    map[string]string{},
		http: &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
			DialContext: ns.DialContext,
			// Health endpoints only, inside our own namespace.
			TLSClientConfig: &tls.Config{InsecureSkipVerify: true},
		}},
	}
}

func (r *run) builder() build.Builder {
	return build.Builder{Modules: r.Modules, Cache: r.Cache, Log: r.Log}
}

func buildParts(ctx context.Context, r *run) error {
	b := r.builder()
	for _, c := range build.Components {
		dir, err := b.Build(ctx, c)
		if err != nil {
			return err
		}
		r.bins[c.Name] = dir
	}
	k8s, err := b.ModuleDir(ctx, "kubernetes", "k8s.io/kubernetes")
	if err != nil {
		return err
	}
	pause, err := b.Pause(ctx, k8s)
	if err != nil {
		return err
	}
	r.bins["pause"] = filepath.Dir(pause)
	r.kube = kube.Client{Kubectl: filepath.Join(r.bins["kubernetes"], "kubectl"), Kubeconfig: r.layout.Kubeconfig("admin"),
		Wrap: r.ns.Command()}
	return nil
}

// waitHTTP waits until url answers 200 inside the namespace, or the
// daemon exits; either failure carries the daemon's last log lines.
func (r *run) waitHTTP(ctx context.Context, daemon, url string, timeout time.Duration) error {
	err := kube.Poll(ctx, timeout, 250*time.Millisecond, func(ctx context.Context) (bool, string, error) {
		if !r.procs.Alive(daemon) {
			return false, "", fmt.Errorf("%s exited", daemon)
		}
		if path, ok := strings.CutPrefix(url, "socket:"); ok {
			conn, err := net.Dial("unix", path)
			if err != nil {
				return false, err.Error(), nil
			}
			conn.Close()
			return true, "", nil
		}
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		resp, err := r.http.Do(req)
		if err != nil {
			return false, err.Error(), nil
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK, resp.Status, nil
	})
	if err != nil {
		return fmt.Errorf("%s did not come up: %w\n--- last lines of %s ---\n%s", daemon, err,
			r.procs.Log(daemon), r.procs.Tail(daemon, 30))
	}
	return nil
}

func (r *run) start(d node.Daemon) error {
	argv := d.Argv
	if !d.NoNetNS {
		argv = r.ns.Command(argv...)
	}
	_, err := r.procs.Start(d.Name, argv, nil)
	return err
}

func (r *run) writeInfo() error {
	i := Info{
		Kubeconfig:     r.layout.HostKubeconfig(),
		APIAddress:     fmt.Sprintf("127.0.0.1:%d", r.APIPort),
		Ingress:        fmt.Sprintf("127.0.0.1:%d", r.IngressPort),
		IngressLocal:   fmt.Sprintf("127.0.0.1:%d", r.LocalPort),
		NetNS:          r.ns.Name,
		NodeIP:         r.layout.NodeIP,
		Kubectl:        r.kube.Kubectl,
		ContainerdSock: r.layout.ContainerdSocket(),
		ContainerdLog:  r.procs.Log("containerd"),
		Images:         r.images,
		Domain:         Domain,
		Cache:          r.Cache,
	}
	b, err := json.MarshalIndent(i, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(InfoFile(r.Dir), b, 0o644)
}
