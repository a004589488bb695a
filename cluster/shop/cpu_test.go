//go:build clustershop

package shop

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wdm-knative/webshop/cluster/internal/kube"
)

// cpuSample is the CPU time each container of the cluster's pods has used
// (cgroup v1 cpuacct, as kubelet lays it out here), by container id, with
// the container's "namespace/workload/container".
type cpuSample map[string]containerCPU

type containerCPU struct {
	key  string
	used time.Duration
}

func sampleCPU(t *testing.T) cpuSample {
	t.Helper()
	var l kube.List
	if err := k.Get(context.Background(), &l, "pods", "-A"); err != nil {
		t.Fatal(err)
	}
	s := cpuSample{}
	for _, p := range l.Items {
		workload := cmp.Or(p.Metadata.Labels["serving.knative.dev/service"], p.Metadata.Labels["app"],
			p.Metadata.Labels["app.kubernetes.io/component"], p.Metadata.Labels["app.kubernetes.io/name"], p.Metadata.Name)
		for _, c := range p.Status.ContainerStatuses {
			id := strings.TrimPrefix(c.ContainerID, "containerd://")
			if id == "" {
				continue
			}
			files, _ := filepath.Glob("/sys/fs/cgroup/cpuacct/kubepods*/pod" + p.Metadata.UID + "/" + id + "/cpuacct.usage")
			more, _ := filepath.Glob("/sys/fs/cgroup/cpuacct/kubepods*/*/pod" + p.Metadata.UID + "/" + id + "/cpuacct.usage")
			for _, f := range append(files, more...) {
				if b, err := os.ReadFile(f); err == nil {
					ns, _ := strconv.ParseInt(string(bytes.TrimSpace(b)), 10, 64)
					s[id] = containerCPU{p.Metadata.Namespace + "/" + workload + "/" + c.Name, time.Duration(ns)}
				}
			}
		}
	}
	return s
}

// cpuWatch samples the containers' CPU every 2 s while a run goes on, so
// that pods which start and go within it are counted too.
type cpuWatch struct {
	first, last cpuSample
	machine     time.Duration // busy time at the start
	end         func()
	mu          sync.Mutex
}

func watchCPU(t *testing.T) *cpuWatch {
	t.Helper()
	w := &cpuWatch{first: sampleCPU(t), last: cpuSample{}, machine: machineBusy(t)}
	w.end = every(2*time.Second, func() { w.add(sampleCPU(t)) })
	return w
}

func (w *cpuWatch) add(s cpuSample) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for id, c := range s {
		w.last[id] = c
	}
}

// stop ends the watch and logs, per checkout, where the CPU went: the
// containers that used the most, the rest of the pods, and what ran
// outside any pod (control plane, kubelet, containerd, the load client).
func (w *cpuWatch) stop(t *testing.T, checkouts uint64) {
	t.Helper()
	w.end()
	w.add(sampleCPU(t))
	machine := machineBusy(t) - w.machine
	if checkouts == 0 {
		t.Error("no checkout to share the CPU over")
		return
	}
	per := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 / float64(checkouts) }
	used := map[string]time.Duration{}
	var pods time.Duration
	for id, c := range w.last {
		d := c.used - w.first[id].used
		used[c.key] += d
		pods += d
	}
	keys := slices.SortedFunc(maps.Keys(used), func(a, b string) int { return cmp.Compare(used[b], used[a]) })
	var lines []string
	var shown time.Duration
	for _, key := range keys[:min(14, len(keys))] {
		lines = append(lines, fmt.Sprintf("%s %.1f", key, per(used[key])))
		shown += used[key]
	}
	t.Logf("REPORT CPU-ms per checkout (%d checkouts): machine %.1f, pods %.1f, outside pods %.1f; top: %s; other pods %.1f",
		checkouts, per(machine), per(pods), per(machine-pods), strings.Join(lines, ", "), per(pods-shown))
}

// machineBusy is the time all CPUs spent not idle, from /proc/stat.
func machineBusy(t *testing.T) time.Duration {
	t.Helper()
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		t.Fatal(err)
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)[1:] // user nice system idle iowait irq softirq steal
	var busy int64
	for i, v := range f {
		n, _ := strconv.ParseInt(v, 10, 64)
		if i != 3 && i != 4 && i < 8 {
			busy += n
		}
	}
	return time.Duration(busy) * time.Second / 100 // USER_HZ
}
