package phases

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/wdm-knative/webshop/cluster/internal/proc"
)

// Down stops every process the cluster started, its containers with them,
// unmounts what it mounted, removes its cgroups, network namespace and
// state, and then checks that nothing is left. Its logs are kept in the
// cache (logs/last) for a post-mortem.
func Down(ctx context.Context, o Options) error {
	r := newRun(o)
	var errs []error
	for _, name := range r.procs.Names() {
		if name == "containerd" {
			continue
		}
		o.Log.Info("stop", "process", name)
		errs = append(errs, r.procs.Stop(name, 10*time.Second))
	}
	// Containers: every descendant of this containerd's shims, then the shims.
	shims := proc.Matching("containerd-shim", r.layout.ContainerdSocket())
	killed := 0
	for _, shim := range shims {
		for _, pid := range append(descendants(shim), shim) {
			errs = append(errs, proc.Kill(pid, 2*time.Second))
			killed++
		}
	}
	if killed > 0 {
		o.Log.Info("containers stopped", "processes", killed)
	}
	errs = append(errs, r.procs.Stop("containerd", 10*time.Second))
	for _, pid := range proc.Matching(o.Dir + "/") {
		errs = append(errs, proc.Kill(pid, 2*time.Second))
	}
	n, err := unmountUnder(o.Dir)
	errs = append(errs, err)
	if n > 0 {
		o.Log.Info("unmounted", "mounts", n)
	}
	errs = append(errs, removeKubeCgroups())
	errs = append(errs, r.ns.Delete(ctx))
	keepLogs(o)
	errs = append(errs, os.RemoveAll(o.Dir))
	cleanStrayFiles()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	return checkNothingLeft(o.Dir, r.ns.Name)
}

// descendants lists pid's children, grandchildren and so on, deepest last.
func descendants(pid int) []int {
	children := map[int][]int{}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		f, err := proc.Stat(p)
		if err != nil || len(f) < 2 {
			continue
		}
		ppid, _ := strconv.Atoi(f[1])
		children[ppid] = append(children[ppid], p)
	}
	var out []int
	var walk func(int)
	walk = func(p int) {
		for _, c := range children[p] {
			out = append(out, c)
			walk(c)
		}
	}
	walk(pid)
	return out
}

// mountsUnder lists mount points at or below dir, deepest first.
func mountsUnder(dir string) []string {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil
	}
	defer f.Close()
	var mounts []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 5 {
			continue
		}
		mp := unescapeMount(fields[4])
		if mp == dir || strings.HasPrefix(mp, dir+"/") {
			mounts = append(mounts, mp)
		}
	}
	slices.SortFunc(mounts, func(a, b string) int { return len(b) - len(a) })
	return slices.Compact(mounts)
}

func unescapeMount(s string) string {
	r := strings.NewReplacer(`\040`, " ", `\011`, "\t", `\012`, "\n", `\134`, `\`)
	return r.Replace(s)
}

func unmountUnder(dir string) (int, error) {
	n := 0
	for range 5 { // a mount can hide another at the same point
		mounts := mountsUnder(dir)
		if len(mounts) == 0 {
			return n, nil
		}
		for _, m := range mounts {
			if err := unix.Unmount(m, unix.MNT_DETACH); err == nil {
				n++
			}
		}
	}
	if left := mountsUnder(dir); len(left) > 0 {
		return n, fmt.Errorf("still mounted: %s", strings.Join(left, ", "))
	}
	return n, nil
}

// removeKubeCgroups removes the kubepods hierarchy kubelet made in every
// cgroup v1 controller (cgroupfs driver), deepest first; the cgroups are
// empty once their processes are gone.
func removeKubeCgroups() error {
	roots, _ := filepath.Glob("/sys/fs/cgroup/*/kubepods")
	var errs []error
	for _, root := range roots {
		var dirs []string
		_ = filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				dirs = append(dirs, p)
			}
			return nil
		})
		slices.SortFunc(dirs, func(a, b string) int { return len(b) - len(a) })
		for _, d := range dirs {
			if err := unix.Rmdir(d); err != nil && !errors.Is(err, unix.ENOENT) {
				errs = append(errs, fmt.Errorf("rmdir %s: %w", d, err))
			}
		}
	}
	return errors.Join(errs...)
}

// cniResults are libcni's cached results for this cluster's pods: its own
// network and the loopback containerd adds to every pod.
func cniResults() []string {
	var files []string
	for _, pattern := range []string{"wdm-pods-*", "cni-loopback-*"} {
		m, _ := filepath.Glob(filepath.Join("/var/lib/cni/results", pattern))
		files = append(files, m...)
	}
	return files
}

// cleanStrayFiles removes what kubelet and libcni create at fixed paths
// whatever they are told.
func cleanStrayFiles() {
	_ = os.Remove("/var/lib/kubelet/device-plugins/kubelet.sock")
	for _, d := range []string{"/var/lib/kubelet/device-plugins", "/var/lib/kubelet/plugins_registry",
		"/var/lib/kubelet/plugins", "/var/lib/kubelet/pod-resources", "/var/lib/kubelet"} {
		_ = os.Remove(d) // only when empty
	}
	for _, f := range cniResults() {
		_ = os.Remove(f)
	}
	_ = os.Remove("/var/lib/cni/results")
	_ = os.Remove("/var/lib/cni")
}

func keepLogs(o Options) {
	src := filepath.Join(o.Dir, "logs")
	if _, err := os.Stat(src); err != nil {
		return
	}
	dst := filepath.Join(o.Cache, "logs", "last")
	_ = os.RemoveAll(dst)
	_ = os.MkdirAll(filepath.Dir(dst), 0o755)
	if out, err := exec.Command("cp", "-a", src, dst).CombinedOutput(); err != nil {
		o.Log.Warn("logs not kept", "err", err, "out", string(out))
		return
	}
	o.Log.Info("logs kept", "dir", dst)
}

// checkNothingLeft fails when a process, mount, cgroup or the namespace
// of the cluster is still there.
func checkNothingLeft(dir, ns string) error {
	var left []string
	if pids := proc.Matching(dir + "/"); len(pids) > 0 {
		left = append(left, fmt.Sprintf("processes %v", pids))
	}
	for _, name := range []string{"kube-apiserver", "kubelet", "kube-proxy", "kube-router", "kube-scheduler", "kube-controller-manager", "traefik"} {
		if pids := proc.Matching("/" + name + " "); len(pids) > 0 {
			left = append(left, fmt.Sprintf("%s %v", name, pids))
		}
	}
	if m := mountsUnder(dir); len(m) > 0 {
		left = append(left, "mounts "+strings.Join(m, ","))
	}
	if cg, _ := filepath.Glob("/sys/fs/cgroup/*/kubepods"); len(cg) > 0 {
		left = append(left, "cgroups "+strings.Join(cg, ","))
	}
	if r := cniResults(); len(r) > 0 {
		left = append(left, fmt.Sprintf("%d CNI results under /var/lib/cni/results", len(r)))
	}
	if _, err := os.Stat("/run/netns/" + ns); err == nil {
		left = append(left, "network namespace "+ns)
	}
	if _, err := os.Stat(dir); err == nil {
		left = append(left, "folder "+dir)
	}
	if len(left) > 0 {
		return fmt.Errorf("left behind: %s", strings.Join(left, "; "))
	}
	return nil
}

// ClusterPIDs are every process of the cluster in dir: the daemons, the
// forwarders, containerd's shims and every container process under them.
func ClusterPIDs(dir string) []int {
	seen := map[int]bool{}
	var out []int
	add := func(pids ...int) {
		for _, p := range pids {
			if !seen[p] {
				seen[p] = true
				out = append(out, p)
			}
		}
	}
	procs := proc.Dir(dir)
	for _, name := range procs.Names() {
		if pid, err := procs.PID(name); err == nil {
			add(pid)
		}
	}
	for _, p := range proc.Matching(dir + "/") {
		add(p)
		add(descendants(p)...)
	}
	return out
}
