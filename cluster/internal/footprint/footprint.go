// Package footprint measures what a cluster costs the machine: the CPU time
// and proportional memory (PSS) of every process it runs, daemons and pods
// alike, over a window.
package footprint

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/wdm-knative/webshop/cluster/internal/proc"
)

// clockTick is USER_HZ, the unit of utime and stime in /proc/PID/stat; it
// is 100 on every Linux this runs on.
const clockTick = 100

// Sample is the summed CPU time and memory of a set of processes.
type Sample struct {
	CPU       time.Duration
	PSSBytes  int64
	Processes int
}

// Usage is the footprint over a window.
type Usage struct {
	Window    time.Duration
	Cores     float64 // CPU time per wall time
	PSSBytes  int64   // at the end
	Processes int
}

func (u Usage) String() string {
	return fmt.Sprintf("%.3f cores, %.2f GiB PSS, %d processes, over %s", u.Cores,
		float64(u.PSSBytes)/(1<<30), u.Processes, u.Window.Round(time.Second))
}

// Measure samples the processes pids() names at the start and the end of
// window. A process that starts or ends inside the window counts only for
// what it used while both samples saw it: good enough for an idle cluster.
func Measure(pids func() []int, window time.Duration) Usage {
	start := Take(pids())
	time.Sleep(window)
	end := Take(pids())
	return Usage{Window: window, Cores: (end.CPU - start.CPU).Seconds() / window.Seconds(),
		PSSBytes: end.PSSBytes, Processes: end.Processes}
}

// Take sums CPU time and PSS over pids.
func Take(pids []int) Sample {
	var s Sample
	for _, pid := range pids {
		stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			continue
		}
		cpu, err := ParseCPU(string(stat))
		if err != nil {
			continue
		}
		s.CPU += cpu
		s.PSSBytes += pss(pid)
		s.Processes++
	}
	return s
}

// ParseCPU reads utime+stime from a /proc/PID/stat line.
func ParseCPU(stat string) (time.Duration, error) {
	f, err := proc.StatFields(stat)
	if err != nil {
		return 0, err
	}
	// After the command: state(0) ppid(1) ... utime(11) stime(12).
	if len(f) < 13 {
		return 0, fmt.Errorf("short stat %q", stat)
	}
	u, err1 := strconv.ParseInt(f[11], 10, 64)
	s, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("stat times %q %q", f[11], f[12])
	}
	return time.Duration(u+s) * time.Second / clockTick, nil
}

func pss(pid int) int64 {
	f, err := os.Open(filepath.Join("/proc", strconv.Itoa(pid), "smaps_rollup"))
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "Pss:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb << 10
		}
	}
	return 0
}
