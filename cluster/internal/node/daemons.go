package node

import (
	"net"

	"github.com/wdm-knative/webshop/cluster/internal/pki"
)

// Identities are the certificates one cluster needs: the API server's and
// kubelet's serving certificates and a client certificate per component,
// named as the bootstrap RBAC roles and the Node authorizer expect.
func (l Layout) Identities() []pki.Identity {
	nodeIP := net.ParseIP(l.NodeIP)
	return []pki.Identity{
		{Name: "apiserver", User: "kube-apiserver", Server: true,
			DNSNames: []string{"kubernetes", "kubernetes.default", "kubernetes.default.svc",
				"kubernetes.default.svc." + l.ClusterDomain, "localhost"},
			IPs: []net.IP{nodeIP, net.ParseIP("127.0.0.1"), net.ParseIP(l.ServiceIP(1))}},
		{Name: "apiserver-kubelet-client", User: "kube-apiserver-kubelet-client", Groups: []string{"system:masters"}},
		{Name: "admin", User: "wdm-admin", Groups: []string{"system:masters"}},
		{Name: "kube-controller-manager", User: "system:kube-controller-manager"},
		{Name: "kube-scheduler", User: "system:kube-scheduler"},
		{Name: "kube-proxy", User: "system:kube-proxy"},
		{Name: "kube-router", User: "system:kube-router"},
		{Name: "kubelet", User: "system:node:" + l.NodeName, Groups: []string{"system:nodes"}},
		{Name: "kubelet-server", User: "system:node:" + l.NodeName, Server: true,
			DNSNames: []string{l.NodeName}, IPs: []net.IP{nodeIP}},
	}
}

// Kubeconfigs names the components that get a kubeconfig inside the
// namespace (each with its own certificate).
var Kubeconfigs = []string{"admin", "kube-controller-manager", "kube-scheduler", "kube-proxy", "kube-router", "kubelet"}

// Daemon is one process of the node: its name (log and pid file), argv,
// and the URL that answers once it is up ("" when there is none).
type Daemon struct {
	Name    string
	Argv    []string
	Ready   string // an http(s) URL inside the namespace, or "socket:PATH"
	NoNetNS bool   // runs on the host (none today; the forwarders are started apart)
}

// Bins locates the binaries: Kubernetes' built here, the rest from Debian.
type Bins struct {
	Kubernetes string // folder with kube-apiserver, kubelet, ...
	KubeRouter string // folder with kube-router
}

// Daemons are the node's processes in start order.
func (l Layout) Daemons(b Bins) []Daemon {
	k := func(name string) string { return b.Kubernetes + "/" + name }
	p := func(f string) string { return l.Path("pki", f) }
	return []Daemon{
		{Name: "containerd", Argv: []string{"containerd", "--config", l.Path("containerd", "config.toml")},
			Ready: "socket:" + l.ContainerdSocket()},
		{Name: "etcd", Argv: append([]string{"etcd"}, flags(
			"name", "wdm",
			"data-dir", l.Path("etcd"),
			"listen-client-urls", "http://127.0.0.1:2379",
			"advertise-client-urls", "http://127.0.0.1:2379",
			"listen-peer-urls", "http://127.0.0.1:2380",
			"initial-advertise-peer-urls", "http://127.0.0.1:2380",
			"initial-cluster", "wdm=http://127.0.0.1:2380",
			"listen-metrics-urls", "http://127.0.0.1:2381",
			// One member: snapshot and compact often enough that idle memory stays small.
			"snapshot-count", "10000",
			"auto-compaction-retention", "1",
		)...), Ready: "http://127.0.0.1:2381/health"},
		{Name: "kube-apiserver", Argv: append([]string{k("kube-apiserver")}, flags(
			"etcd-servers", "http://127.0.0.1:2379",
			"bind-address", "0.0.0.0",
			"secure-port", "6443",
			"advertise-address", l.NodeIP,
			"service-cluster-ip-range", l.ServiceCIDR,
			"tls-cert-file", p("apiserver.crt"),
			"tls-private-key-file", p("apiserver.key"),
			"client-ca-file", p("ca.crt"),
			"kubelet-client-certificate", p("apiserver-kubelet-client.crt"),
			"kubelet-client-key", p("apiserver-kubelet-client.key"),
			"kubelet-certificate-authority", p("ca.crt"),
			// Node names resolve through the host's resolver otherwise.
			"kubelet-preferred-address-types", "InternalIP",
			"service-account-key-file", p("sa.pub"),
			"service-account-signing-key-file", p("sa.key"),
			"service-account-issuer", "https://kubernetes.default.svc."+l.ClusterDomain,
			"authorization-mode", "Node,RBAC",
			"enable-admission-plugins", "NodeRestriction",
			"allow-privileged", "true",
			"profiling", "false",
			"event-ttl", "30m",
		)...), Ready: "https://127.0.0.1:6443/readyz"},
		{Name: "kube-controller-manager", Argv: append([]string{k("kube-controller-manager")}, l.controlPlaneFlags("kube-controller-manager",
			"use-service-account-credentials", "true",
			"root-ca-file", p("ca.crt"),
			"service-account-private-key-file", p("sa.key"),
			"cluster-signing-cert-file", p("ca.crt"),
			"cluster-signing-key-file", p("ca.key"),
			"cluster-cidr", l.ClusterCIDR,
			"service-cluster-ip-range", l.ServiceCIDR,
			"controllers", "*,-cloud-node-lifecycle",
		)...), Ready: "https://127.0.0.1:10257/healthz"},
		{Name: "kube-scheduler", Argv: append([]string{k("kube-scheduler")}, l.controlPlaneFlags("kube-scheduler")...),
			Ready: "https://127.0.0.1:10259/healthz"},
		{Name: "kubelet", Argv: append([]string{k("kubelet")}, flags(
			"config", l.Path("config", "kubelet.yaml"),
			"kubeconfig", l.Kubeconfig("kubelet"),
			"root-dir", l.KubeletRoot(),
			"node-ip", l.NodeIP,
			"hostname-override", l.NodeName,
			"v", "1",
		)...), Ready: "http://127.0.0.1:10248/healthz"},
		{Name: "kube-proxy", Argv: append([]string{k("kube-proxy")}, flags(
			"config", l.Path("config", "kube-proxy.yaml"),
		)...), Ready: "http://127.0.0.1:10256/healthz"},
	}
}

// PolicyDaemon is kube-router with only its network policy controller
// (iptables and ipsets in the namespace's FORWARD path): its router and
// service proxy are off (the bridge CNI routes, kube-proxy proxies). It
// starts with the addons, once its RBAC is in place.
func (l Layout) PolicyDaemon(b Bins) Daemon {
	return Daemon{Name: "kube-router", Argv: append([]string{b.KubeRouter + "/kube-router"}, flags(
		"kubeconfig", l.Kubeconfig("kube-router"),
		"hostname-override", l.NodeName,
		"run-firewall", "true",
		"run-router", "false",
		"run-service-proxy", "false",
		"enable-cni", "false",
		"service-cluster-ip-range", l.ServiceCIDR,
		"health-port", "20244",
	)...), Ready: "http://127.0.0.1:20244/healthz"}
}

// controlPlaneFlags are the flags the controller-manager and the scheduler
// share: their own kubeconfig for every client, a loopback health port, no
// leader election (one of each), then the extra flags.
func (l Layout) controlPlaneFlags(name string, extra ...string) []string {
	kc := l.Kubeconfig(name)
	return flags(append([]string{
		"kubeconfig", kc,
		"authentication-kubeconfig", kc,
		"authorization-kubeconfig", kc,
		"bind-address", "127.0.0.1",
		"leader-elect", "false",
		"profiling", "false",
	}, extra...)...)
}
