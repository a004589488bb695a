// Package node lays out one single-node cluster: where its files live, its
// addresses, and the configuration and command line of every daemon
// (containerd, etcd, the control plane, kubelet, kube-proxy). Everything here
// is pure rendering, so it is unit-tested without a cluster.
package node

import (
	"fmt"
	"net/netip"
	"path/filepath"
)

// Layout is one cluster's files and addresses. Every address is inside the
// cluster's network namespace.
type Layout struct {
	Dir           string // state: logs, pids, data; removed by cluster-down
	NetNS         string // the network namespace's name
	NodeName      string
	NodeIP        string // on the namespace's veth
	NodePrefix    int
	PodCIDR       string // this node's pods (the CNI bridge's range)
	ClusterCIDR   string // every pod
	ServiceCIDR   string // ClusterIPs
	ClusterDomain string
	PauseImage    string // the sandbox image, built here
	APIPort       int
}

// Default is the layout cluster-up uses under dir.
func Default(dir string) Layout {
	return Layout{
		Dir:           dir,
		NetNS:         "wdm-cluster",
		NodeName:      "wdm-node",
		NodeIP:        "10.250.0.2",
		NodePrefix:    24,
		PodCIDR:       "10.244.0.0/24",
		ClusterCIDR:   "10.244.0.0/16",
		ServiceCIDR:   "10.96.0.0/16",
		ClusterDomain: "cluster.local",
		PauseImage:    "dev.local/wdm/pause:3.10",
		APIPort:       6443,
	}
}

// Path is a file or folder inside the state directory.
func (l Layout) Path(parts ...string) string {
	return filepath.Join(append([]string{l.Dir}, parts...)...)
}

// NodeCIDR is the node's address with its prefix.
func (l Layout) NodeCIDR() string { return fmt.Sprintf("%s/%d", l.NodeIP, l.NodePrefix) }

// APIServer is the API server's URL inside the namespace.
func (l Layout) APIServer() string { return fmt.Sprintf("https://%s:%d", l.NodeIP, l.APIPort) }

// ServiceIP is the n-th address of the service range: 1 is the
// kubernetes Service, 10 the cluster DNS.
func (l Layout) ServiceIP(n int) string {
	p := netip.MustParsePrefix(l.ServiceCIDR)
	a := p.Addr()
	for range n {
		a = a.Next()
	}
	return a.String()
}

// DNSIP is the cluster DNS Service's address.
func (l Layout) DNSIP() string { return l.ServiceIP(10) }

// ContainerdSocket is the private containerd's CRI and API socket.
func (l Layout) ContainerdSocket() string { return l.Path("containerd", "containerd.sock") }

// KubeletRoot is kubelet's --root-dir (it bind-mounts it onto itself).
func (l Layout) KubeletRoot() string { return l.Path("kubelet") }

// PKI is where the certificates are.
func (l Layout) PKI() string { return l.Path("pki") }

// Kubeconfig is a component's kubeconfig, inside the namespace.
func (l Layout) Kubeconfig(name string) string { return l.Path("kubeconfig", name+".yaml") }

// HostKubeconfig is the admin kubeconfig for clients on the host, through
// the forwarded port on 127.0.0.1.
func (l Layout) HostKubeconfig() string { return l.Path("kubeconfig.yaml") }
