// Package netns is the cluster's network namespace: the only network the
// cluster has. The node's address, the pod bridge and the service range all
// live inside it, and it has no route out, so nothing the cluster runs can
// reach another host. The host reaches it only through DialContext.
package netns

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strings"

	"golang.org/x/sys/unix"
)

// Namespace is a named network namespace under /run/netns.
type Namespace struct {
	Name string
}

// Path is the namespace's file, as `ip netns` makes it.
func (n Namespace) Path() string { return "/run/netns/" + n.Name }

// Exists reports whether the namespace is there.
func (n Namespace) Exists() bool {
	_, err := os.Stat(n.Path())
	return err == nil
}

// Links is how the node's network is laid out inside the namespace.
type Links struct {
	// NodeIP (with its prefix) sits on one end of a veth pair whose other end
	// is inside too: this kernel has no dummy links.
	NodeCIDR string
	// ServiceCIDR gets a route to that veth, so a connect to a ClusterIP
	// finds a route before kube-proxy's rules rewrite it.
	ServiceCIDR string
}

// Create makes the namespace and its links, and sets the sysctls the node
// needs (they are per namespace). It never adds a default route.
func (n Namespace) Create(ctx context.Context, l Links) error {
	if n.Exists() {
		return fmt.Errorf("network namespace %s exists: run cluster-down first", n.Name)
	}
	if err := run(ctx, "ip", "netns", "add", n.Name); err != nil {
		return err
	}
	steps := [][]string{
		{"ip", "link", "set", "lo", "up"},
		{"ip", "link", "add", "node0", "type", "veth", "peer", "name", "node1"},
		{"ip", "addr", "add", l.NodeCIDR, "dev", "node0"},
		{"ip", "link", "set", "node0", "up"},
		{"ip", "link", "set", "node1", "up"},
		{"ip", "route", "add", l.ServiceCIDR, "dev", "node0"},
		{"sysctl", "-q", "-w", "net.ipv4.ip_forward=1"},
	}
	for _, s := range steps {
		if err := n.Run(ctx, s...); err != nil {
			return err
		}
	}
	// bridge-nf-call-iptables exists per namespace once br_netfilter is
	// loaded; kube-proxy's rules for pod-to-service traffic on the bridge
	// depend on it.
	_ = run(ctx, "modprobe", "br_netfilter")
	return n.Run(ctx, "sysctl", "-q", "-w", "net.bridge.bridge-nf-call-iptables=1")
}

// Delete removes the namespace; the links inside go with it.
func (n Namespace) Delete(ctx context.Context) error {
	if !n.Exists() {
		return nil
	}
	return run(ctx, "ip", "netns", "delete", n.Name)
}

// Command is argv run inside the namespace. nsenter, not `ip netns exec`,
// which remounts /sys and hides the cgroup mounts kubelet needs; nsenter
// execs the program, so the process id is the program's.
func (n Namespace) Command(argv ...string) []string {
	return append([]string{"nsenter", "--net=" + n.Path(), "--"}, argv...)
}

// Run runs argv inside the namespace and returns its output in the error.
func (n Namespace) Run(ctx context.Context, argv ...string) error {
	return run(ctx, n.Command(argv...)...)
}

func run(ctx context.Context, argv ...string) error {
	out, err := exec.CommandContext(ctx, argv[0], argv[1:]...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s: %w: %s", strings.Join(argv, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

// DialContext dials addr (an IP literal and port) from inside the namespace.
// The socket is made on a thread that entered the namespace; a socket keeps
// its namespace for life, so the connection is usable from anywhere. The
// thread is never unlocked: it dies with its goroutine instead of going back
// to the pool inside the wrong namespace.
func (n Namespace) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	if net.ParseIP(host) == nil {
		return nil, fmt.Errorf("dial %s in namespace %s: only IP addresses (the host's resolver is not the cluster's)", addr, n.Name)
	}
	type result struct {
		conn net.Conn
		err  error
	}
	done := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		f, err := os.Open(n.Path())
		if err != nil {
			done <- result{err: err}
			return
		}
		defer f.Close()
		if err := unix.Setns(int(f.Fd()), unix.CLONE_NEWNET); err != nil {
			done <- result{err: fmt.Errorf("enter %s: %w", n.Path(), err)}
			return
		}
		var d net.Dialer
		c, err := d.DialContext(ctx, network, addr)
		done <- result{conn: c, err: err}
	}()
	select {
	case r := <-done:
		return r.conn, r.err
	case <-ctx.Done():
		go func() {
			if r := <-done; r.conn != nil {
				r.conn.Close()
			}
		}()
		return nil, errors.Join(ctx.Err(), fmt.Errorf("dial %s in %s", addr, n.Name))
	}
}
