package node

import (
	"fmt"
	"strings"
)

// ContainerdConfig is the private containerd's config.toml. Its registry
// config sends every pull to a port nothing listens on inside the
// namespace: a pull fails at once and never leaves the machine, and the
// smoke test treats any PullImage in containerd's log as a failure.
func (l Layout) ContainerdConfig() string {
	return fmt.Sprintf(`version = 2
root = %[1]q
state = %[2]q

[grpc]
  address = %[3]q

[ttrpc]
  address = %[4]q

[debug]
  level = "info"

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = %[5]q
  # The machine's bounding set lacks CAP_SYS_RESOURCE: runc cannot lower
  # oom_score_adj below the tool's own, so containerd must not ask it to.
  restrict_oom_score_adj = true
  enable_unprivileged_ports = true
  # Pod network namespaces under the state folder, so cluster-down finds
  # every one of them there.
  netns_mounts_under_state_dir = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = %[6]q
  [plugins."io.containerd.grpc.v1.cri".registry]
    config_path = %[7]q
`, l.Path("containerd", "root"), l.Path("containerd", "state"), l.ContainerdSocket(),
		l.Path("containerd", "containerd.sock.ttrpc"), l.PauseImage, l.Path("cni", "net.d"),
		l.Path("containerd", "certs.d"))
}

// RegistryHosts is certs.d/_default/hosts.toml: every registry is a closed
// port on the namespace's loopback.
func RegistryHosts() string {
	return `server = "http://127.0.0.1:1"

[host."http://127.0.0.1:1"]
  capabilities = ["pull", "resolve"]
`
}

// CNIConfig is the pod network: one bridge, addresses from the node's pod
// range, hairpin so a pod can reach itself through its Service.
func (l Layout) CNIConfig() string {
	return fmt.Sprintf(`{
  "cniVersion": "0.4.0",
  "name": "wdm-pods",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "cni0",
      "isGateway": true,
      "ipMasq": false,
      "hairpinMode": true,
      "ipam": {
        "type": "host-local",
        "ranges": [[{"subnet": %q}]],
        "routes": [{"dst": "0.0.0.0/0"}],
        "dataDir": %q
      }
    },
    {"type": "portmap", "capabilities": {"portMappings": true}}
  ]
}
`, l.PodCIDR, l.Path("cni", "ipam"))
}

// ResolvConf is what pods that do not use the cluster DNS get, and the
// file kubelet builds pod resolv.conf files from. It names only the cluster
// DNS, which has no upstream.
func (l Layout) ResolvConf() string {
	return fmt.Sprintf("nameserver %s\n", l.DNSIP())
}

// KubeletConfig is kubelet's KubeletConfiguration.
func (l Layout) KubeletConfig() string {
	return fmt.Sprintf(`apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
authentication:
  anonymous:
    enabled: false
  webhook:
    enabled: true
  x509:
    clientCAFile: %[1]q
authorization:
  mode: Webhook
tlsCertFile: %[2]q
tlsPrivateKeyFile: %[3]q
containerRuntimeEndpoint: %[4]q
cgroupDriver: cgroupfs
# This VM has cgroup v1 only; 1.34 still runs on it when told so.
failCgroupV1: false
failSwapOn: false
clusterDNS: [%[5]q]
clusterDomain: %[6]q
resolvConf: %[7]q
maxPods: 200
serializeImagePulls: false
healthzBindAddress: 127.0.0.1
healthzPort: 10248
evictionHard:
  memory.available: 200Mi
  nodefs.available: 5%%
  imagefs.available: 5%%
imageGCHighThresholdPercent: 95
imageGCLowThresholdPercent: 90
`, l.Path("pki", "ca.crt"), l.Path("pki", "kubelet-server.crt"), l.Path("pki", "kubelet-server.key"),
		"unix://"+l.ContainerdSocket(), l.DNSIP(), l.ClusterDomain, l.Path("config", "resolv.conf"))
}

// KubeProxyConfig is kube-proxy's configuration. Its conntrack settings are
// zero so that it leaves the host-wide conntrack sysctls alone, and
// localhost NodePorts are off so it sets no route_localnet.
func (l Layout) KubeProxyConfig() string {
	return fmt.Sprintf(`apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection:
  kubeconfig: %q
mode: iptables
clusterCIDR: %q
hostnameOverride: %q
bindAddress: %q
healthzBindAddress: 127.0.0.1:10256
metricsBindAddress: 127.0.0.1:10249
iptables:
  localhostNodePorts: false
conntrack:
  maxPerCore: 0
  min: 0
  tcpEstablishedTimeout: 0s
  tcpCloseWaitTimeout: 0s
`, l.Kubeconfig("kube-proxy"), l.ClusterCIDR, l.NodeName, l.NodeIP)
}

// Files is every configuration file the node's daemons read, by path.
func (l Layout) Files() map[string]string {
	return map[string]string{
		l.Path("containerd", "config.toml"):                       l.ContainerdConfig(),
		l.Path("containerd", "certs.d", "_default", "hosts.toml"): RegistryHosts(),
		l.Path("cni", "net.d", "10-wdm-pods.conflist"):            l.CNIConfig(),
		l.Path("config", "resolv.conf"):                           l.ResolvConf(),
		l.Path("config", "kubelet.yaml"):                          l.KubeletConfig(),
		l.Path("config", "kube-proxy.yaml"):                       l.KubeProxyConfig(),
	}
}

func flags(kv ...string) []string {
	out := make([]string, 0, len(kv)/2)
	for i := 0; i+1 < len(kv); i += 2 {
		out = append(out, "--"+kv[i]+"="+kv[i+1])
	}
	return out
}

// joined is a comma-separated flag value.
func joined(v ...string) string { return strings.Join(v, ",") }
