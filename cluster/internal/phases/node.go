package phases

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/wdm-knative/webshop/cluster/internal/kube"
	"github.com/wdm-knative/webshop/cluster/internal/netns"
	"github.com/wdm-knative/webshop/cluster/internal/node"
	"github.com/wdm-knative/webshop/cluster/internal/pki"
)

// hostPrograms are the Debian parts the node runs (make cluster-up installs
// the packages when missing).
var hostPrograms = []string{"containerd", "containerd-shim-runc-v2", "runc", "ctr", "etcd", "nsenter", "iptables", "ipset", "ip", "gcc",
	"busybox", "/usr/lib/postgresql/15/bin/postgres"}

// hostPackages are the Debian packages that provide them.
// busybox-static and postgresql go into the images of the shop's Postgres;
// kube-router's policy controller drives iptables and ipset.
var hostPackages = []string{"containerd", "runc", "etcd-server", "containernetworking-plugins", "iptables", "ipset", "gcc",
	"libc6-dev", "util-linux", "iproute2", "busybox-static", "postgresql"}

// installHost installs the Debian packages when a program is missing. A
// policy-rc.d that refuses every start keeps the packages' own services
// (a host etcd on 2379, a host containerd) from starting.
func installHost(ctx context.Context, r *run) error {
	if checkHost() == nil {
		return nil
	}
	r.Log.Info("installing Debian packages", "packages", hostPackages)
	const policy = "/usr/sbin/policy-rc.d"
	if _, err := os.Stat(policy); errors.Is(err, os.ErrNotExist) {
		if err := os.WriteFile(policy, []byte("#!/bin/sh\nexit 101\n"), 0o755); err != nil {
			return err
		}
		defer os.Remove(policy)
	}
	for _, args := range [][]string{{"update", "-q"}, append([]string{"install", "-y", "-q", "--no-install-recommends"}, hostPackages...)} {
		cmd := exec.CommandContext(ctx, "apt-get", args...)
		cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("apt-get %s: %w\n%s", args[0], err, out)
		}
	}
	return checkHost()
}

func checkHost() error {
	for _, p := range hostPrograms {
		if _, err := exec.LookPath(p); err != nil {
			return fmt.Errorf("%s is not installed (make cluster-up installs %s)", p, strings.Join(hostPackages, " "))
		}
	}
	for _, p := range []string{"bridge", "host-local", "loopback", "portmap"} {
		if _, err := os.Stat(filepath.Join("/usr/lib/cni", p)); err != nil {
			return fmt.Errorf("CNI plugin %s missing under /usr/lib/cni (package containernetworking-plugins)", p)
		}
	}
	return nil
}

// startNode makes the namespace, writes every config file, the
// certificates and kubeconfigs, starts containerd and imports the images.
func startNode(ctx context.Context, r *run) error {
	if err := checkHost(); err != nil {
		return err
	}
	if err := os.MkdirAll(r.Dir, 0o755); err != nil {
		return err
	}
	if err := r.ns.Create(ctx, netns.Links{NodeCIDR: r.layout.NodeCIDR(), ServiceCIDR: r.layout.ServiceCIDR}); err != nil {
		return err
	}
	for path, content := range r.layout.Files() {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			return err
		}
	}
	files := pki.Files(r.layout.PKI())
	if _, err := files.Write(r.layout.Identities()); err != nil {
		return fmt.Errorf("certificates: %w", err)
	}
	for _, name := range node.Kubeconfigs {
		kc, err := files.Kubeconfig(r.layout.APIServer(), name)
		if err != nil {
			return err
		}
		if err := writeFile(r.layout.Kubeconfig(name), kc); err != nil {
			return err
		}
	}
	hostKC, err := files.Kubeconfig(fmt.Sprintf("https://127.0.0.1:%d", r.APIPort), "admin")
	if err != nil {
		return err
	}
	if err := writeFile(r.layout.HostKubeconfig(), hostKC); err != nil {
		return err
	}
	d := r.layout.Daemons(node.Bins{Kubernetes: r.bins["kubernetes"]})[0]
	if err := r.start(d); err != nil {
		return err
	}
	if err := r.waitHTTP(ctx, d.Name, d.Ready, 30*time.Second); err != nil {
		return err
	}
	return r.importImages(ctx)
}

func writeFile(path string, b []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o600)
}

// startControlPlane starts etcd, the API server, controller-manager,
// scheduler, kubelet and kube-proxy in order, each waited for, then waits
// for the node to be Ready.
func startControlPlane(ctx context.Context, r *run) error {
	daemons := r.layout.Daemons(node.Bins{Kubernetes: r.bins["kubernetes"]})[1:]
	for _, d := range daemons {
		if err := r.start(d); err != nil {
			return err
		}
		timeout := 60 * time.Second
		if err := r.waitHTTP(ctx, d.Name, d.Ready, timeout); err != nil {
			return err
		}
		r.Log.Info("up", "daemon", d.Name)
	}
	err := kube.Poll(ctx, 90*time.Second, time.Second, func(ctx context.Context) (bool, string, error) {
		var n kube.Object
		if err := r.kube.Get(ctx, &n, "node", r.layout.NodeName); err != nil {
			return false, err.Error(), nil
		}
		c := n.Cond("Ready")
		return c.Status == "True", c.Reason + " " + c.Message, nil
	})
	if err != nil {
		return fmt.Errorf("node %s not Ready: %w\n--- kubelet ---\n%s", r.layout.NodeName, err, r.procs.Tail("kubelet", 30))
	}
	return nil
}
