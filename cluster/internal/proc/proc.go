// Package proc starts the node's daemons (etcd, the control plane, kubelet,
// containerd, the host forwarders) as processes that outlive the tool, each
// with a log file and a pid file, and stops every one of them again.
package proc

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Dir holds the logs and pid files of one cluster's processes.
type Dir string

// Log is the log file of the named process.
func (d Dir) Log(name string) string { return filepath.Join(string(d), "logs", name+".log") }

func (d Dir) pidFile(name string) string { return filepath.Join(string(d), "pids", name) }

// Start runs argv in a session of its own (so it survives the tool and a
// Ctrl-C in the terminal), output appended to its log, and records its pid.
func (d Dir) Start(name string, argv []string, env []string) (int, error) {
	for _, sub := range []string{"logs", "pids"} {
		if err := os.MkdirAll(filepath.Join(string(d), sub), 0o755); err != nil {
			return 0, err
		}
	}
	logf, err := os.OpenFile(d.Log(name), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return 0, err
	}
	defer logf.Close()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return 0, fmt.Errorf("start %s: %w", name, err)
	}
	pid := cmd.Process.Pid
	if err := os.WriteFile(d.pidFile(name), []byte(strconv.Itoa(pid)), 0o644); err != nil {
		return pid, err
	}
	// Reap it if it exits while the tool still runs, so Alive sees the exit.
	go cmd.Wait()
	return pid, nil
}

// Alive reports whether the named process still runs.
func (d Dir) Alive(name string) bool {
	pid, err := d.PID(name)
	return err == nil && alive(pid)
}

// PID is the recorded process id of the named process.
func (d Dir) PID(name string) (int, error) {
	b, err := os.ReadFile(d.pidFile(name))
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(strings.TrimSpace(string(b)))
}

func alive(pid int) bool {
	if syscall.Kill(pid, 0) != nil {
		return false
	}
	// A zombie is gone for our purposes.
	f, err := Stat(pid)
	return err == nil && len(f) > 0 && f[0] != "Z"
}

// Stat is /proc/PID/stat's fields after the command (state, ppid, ...).
// The command may hold spaces and parentheses, so fields are counted
// from the last ')'.
func Stat(pid int) ([]string, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return nil, err
	}
	return StatFields(string(b))
}

// StatFields splits a /proc/PID/stat line as Stat does.
func StatFields(stat string) ([]string, error) {
	i := strings.LastIndexByte(stat, ')')
	if i < 0 {
		return nil, fmt.Errorf("no command in %q", stat)
	}
	return strings.Fields(stat[i+1:]), nil
}

// Names lists the processes with a pid file, in start order reversed, so
// that stopping goes from the last started to the first.
func (d Dir) Names() []string {
	entries, _ := os.ReadDir(filepath.Join(string(d), "pids"))
	type started struct {
		name string
		at   time.Time
	}
	var all []started
	for _, e := range entries {
		info, err := e.Info()
		if err != nil {
			continue
		}
		all = append(all, started{e.Name(), info.ModTime()})
	}
	slices.SortFunc(all, func(a, b started) int { return b.at.Compare(a.at) })
	names := make([]string, len(all))
	for i, s := range all {
		names[i] = s.name
	}
	return names
}

// Stop ends the named process: SIGTERM, then SIGKILL after grace.
func (d Dir) Stop(name string, grace time.Duration) error {
	pid, err := d.PID(name)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer os.Remove(d.pidFile(name))
	return Kill(pid, grace)
}

// Kill sends SIGTERM to pid and SIGKILL if it has not exited after grace.
func Kill(pid int, grace time.Duration) error {
	if !alive(pid) {
		return nil
	}
	_ = syscall.Kill(pid, syscall.SIGTERM)
	deadline := time.Now().Add(grace)
	for time.Now().Before(deadline) {
		if !alive(pid) {
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	_ = syscall.Kill(pid, syscall.SIGKILL)
	for range 100 {
		if !alive(pid) {
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("process %d survived SIGKILL", pid)
}

// LastLines is the last n lines of a command's output, for an error.
func LastLines(b []byte, n int) string {
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// Tail is the last n lines of the named process's log: what a failure
// report shows, in the component's own words.
func (d Dir) Tail(name string, n int) string {
	f, err := os.Open(d.Log(name))
	if err != nil {
		return fmt.Sprintf("(no log: %v)", err)
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if len(lines) > n {
			lines = lines[1:]
		}
	}
	return strings.Join(lines, "\n")
}

// Matching lists the pids of processes whose command line contains every
// one of the given strings: what cluster-down uses to find what the pid
// files no longer name (container shims, a daemon started twice).
func Matching(parts ...string) []int {
	entries, _ := os.ReadDir("/proc")
	self := os.Getpid()
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == self {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil || len(b) == 0 {
			continue
		}
		cmdline := strings.ReplaceAll(string(b), "\x00", " ")
		ok := true
		for _, p := range parts {
			if !strings.Contains(cmdline, p) {
				ok = false
				break
			}
		}
		if ok {
			pids = append(pids, pid)
		}
	}
	return pids
}
