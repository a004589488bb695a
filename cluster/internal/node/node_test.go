package node

import (
	"encoding/json"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

func TestAddresses(t *testing.T) {
	l := Default("/var/lib/wdm-cluster")
	tests := []struct{ name, got, want string }{
		{"kubernetes Service", l.ServiceIP(1), "10.96.0.1"},
		{"cluster DNS", l.DNSIP(), "10.96.0.10"},
		{"node", l.NodeCIDR(), "10.250.0.2/24"},
		{"API server", l.APIServer(), "https://10.250.0.2:6443"},
	}
	for _, tc := range tests {
		if tc.got != tc.want {
			t.Errorf("%s: %s, want %s", tc.name, tc.got, tc.want)
		}
	}
}

func TestConfigFilesParse(t *testing.T) {
	l := Default("/state")
	for path, content := range l.Files() {
		switch {
		case strings.HasSuffix(path, ".yaml"):
			var v map[string]any
			if err := yaml.Unmarshal([]byte(content), &v); err != nil {
				t.Errorf("%s: %v", path, err)
			}
		case strings.HasSuffix(path, ".conflist"):
			var v map[string]any
			if err := json.Unmarshal([]byte(content), &v); err != nil {
				t.Errorf("%s: %v", path, err)
			}
		}
		if !strings.HasPrefix(path, "/state/") {
			t.Errorf("%s is outside the state folder", path)
		}
	}
}

func TestConfigSettings(t *testing.T) {
	l := Default("/state")
	tests := []struct {
		name, text, want string
	}{
		{"runc cannot lower oom_score_adj here", l.ContainerdConfig(), "restrict_oom_score_adj = true"},
		{"the sandbox image is built here", l.ContainerdConfig(), `sandbox_image = "dev.local/wdm/pause:3.10"`},
		{"pulls go nowhere", RegistryHosts(), `server = "http://127.0.0.1:1"`},
		{"cgroup v1 allowed", l.KubeletConfig(), "failCgroupV1: false"},
		{"pods resolve through the cluster DNS only", l.KubeletConfig(), `resolvConf: "/state/config/resolv.conf"`},
		{"resolv.conf names the cluster DNS", l.ResolvConf(), "nameserver 10.96.0.10"},
		{"kube-proxy leaves host conntrack alone", l.KubeProxyConfig(), "maxPerCore: 0"},
		{"pod range on the bridge", l.CNIConfig(), `"subnet": "10.244.0.0/24"`},
	}
	for _, tc := range tests {
		if !strings.Contains(tc.text, tc.want) {
			t.Errorf("%s: %q missing", tc.name, tc.want)
		}
	}
}

func TestDaemons(t *testing.T) {
	l := Default("/state")
	ds := l.Daemons(Bins{Kubernetes: "/bin/k8s"})
	want := []string{"containerd", "etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubelet", "kube-proxy"}
	if len(ds) != len(want) {
		t.Fatalf("%d daemons, want %d", len(ds), len(want))
	}
	for i, d := range ds {
		if d.Name != want[i] {
			t.Errorf("daemon %d is %s, want %s", i, d.Name, want[i])
		}
		if d.Ready == "" {
			t.Errorf("%s has no readiness check", d.Name)
		}
	}
	api := strings.Join(ds[2].Argv, " ")
	for _, flag := range []string{"--authorization-mode=Node,RBAC", "--service-cluster-ip-range=10.96.0.0/16",
		"--kubelet-preferred-address-types=InternalIP", "--etcd-servers=http://127.0.0.1:2379"} {
		if !strings.Contains(api, flag) {
			t.Errorf("kube-apiserver lacks %s", flag)
		}
	}
}

func TestIdentities(t *testing.T) {
	ids := map[string]string{}
	for _, id := range Default("/state").Identities() {
		ids[id.Name] = id.User
	}
	tests := map[string]string{
		"kubelet":                 "system:node:wdm-node",
		"kube-proxy":              "system:kube-proxy",
		"kube-scheduler":          "system:kube-scheduler",
		"kube-controller-manager": "system:kube-controller-manager",
	}
	for name, user := range tests {
		if ids[name] != user {
			t.Errorf("%s is %q, want %q (what the bootstrap roles bind)", name, ids[name], user)
		}
	}
	for _, name := range Kubeconfigs {
		if _, ok := ids[name]; !ok {
			t.Errorf("kubeconfig %s has no certificate", name)
		}
	}
}

func TestPolicyDaemonRunsOnlyTheFirewall(t *testing.T) {
	d := Default("/state").PolicyDaemon(Bins{KubeRouter: "/bin/kr"})
	argv := strings.Join(d.Argv, " ")
	for _, flag := range []string{"--run-firewall=true", "--run-router=false", "--run-service-proxy=false", "--enable-cni=false",
		"--service-cluster-ip-range=10.96.0.0/16", "--hostname-override=" + Default("/state").NodeName,
		"--kubeconfig=" + Default("/state").Kubeconfig("kube-router")} {
		if !strings.Contains(argv, flag) {
			t.Errorf("kube-router lacks %s: %s", flag, argv)
		}
	}
	if d.Argv[0] != "/bin/kr/kube-router" || d.Ready == "" {
		t.Errorf("kube-router daemon %+v", d)
	}
}
