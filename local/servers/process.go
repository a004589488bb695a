// Package servers runs the servers the web shop needs on one machine: private
// PostgreSQL and RabbitMQ instances under a folder of their own, on free loopback
// ports, so that a fresh machine works and fault tests can kill them.
package servers

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// FreePort returns a loopback port nobody listens on right now, below the
// kernel's ephemeral range when it can. A port from the ephemeral range
// (what listening on port 0 hands out) may be taken as the source port of
// any outgoing connection before the server that asked for it binds it: a
// RabbitMQ node, seconds into its boot, then dies with
// could_not_start_listener. Ports below the range are only ever taken by an
// explicit bind.
func FreePort() (int, error) {
	if low := ephemeralLow(); low-minPort >= 1000 {
		for range 50 {
			port := minPort + rand.IntN(low-minPort)
			if l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port))); err == nil {
				l.Close()
				return port, nil
			}
		}
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// minPort is where FreePort's range starts, above the ports servers are
// usually configured on (Postgres 5432, RabbitMQ 5672, ...); one that is in
// use is skipped anyway.
const minPort = 10000

// ephemeralLow is the first port of the kernel's ephemeral range (Linux's
// default, 32768, when it cannot be read).
func ephemeralLow() int {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return 32768
	}
	fields := strings.Fields(string(b))
	if len(fields) != 2 {
		return 32768
	}
	low, err := strconv.Atoi(fields[0])
	if err != nil {
		return 32768
	}
	return low
}

// waitTCP polls addr until it accepts a connection or ctx ends.
func waitTCP(ctx context.Context, addr string) error {
	for {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for %s: %w", addr, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// ownGroup puts a child in its own process group so that a stop reaches
// every process it forked (postgres backends, Erlang's helpers).
func ownGroup(cmd *exec.Cmd) {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Setpgid = true
	cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
}

// KillGroup sends sig to the process group led by cmd's process.
func KillGroup(cmd *exec.Cmd, sig syscall.Signal) {
	if cmd == nil || cmd.Process == nil {
		return
	}
	_ = syscall.Kill(-cmd.Process.Pid, sig)
}

// logFile opens (appending) the log a server writes its output to.
func logFile(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
}

// GroupAlive reports whether any live (non-zombie) process is in process
// group pgid. Zombies are left out: orphans are reaped by init, not by us.
func GroupAlive(pgid int) bool {
	want := strconv.Itoa(pgid)
	return anyLiveProcess(func(_ string, stat []string) bool { return len(stat) > 2 && stat[2] == want })
}

// anyLiveProcess reports whether a live (non-zombie) process satisfies
// match, which gets the pid and the fields of /proc/PID/stat after the
// command name (state, ppid, pgrp, ...).
func anyLiveProcess(match func(pid string, stat []string) bool) bool {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return false
	}
	for _, e := range entries {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue // gone meanwhile
		}
		// The command name is in parentheses and may hold spaces.
		f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
		if len(f) > 0 && f[0] != "Z" && match(e.Name(), f) {
			return true
		}
	}
	return false
}

// WaitGroupGone waits (a few seconds at most) until no live process is left
// in process group pgid: a SIGKILLed leader is reaped before the rest of its
// group has died, and a postgres started again meanwhile finds its old
// backends still holding the shared memory.
func WaitGroupGone(pgid int) {
	for deadline := time.Now().Add(5 * time.Second); GroupAlive(pgid) && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
}
