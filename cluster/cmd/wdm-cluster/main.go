// Command wdm-cluster brings up, on this machine, a real single-node
// Kubernetes with Knative Serving and Eventing, built from published
// sources, inside a network namespace of its own; and takes it down again.
//
//	wdm-cluster up      build what the cache lacks, start everything, wait until Ready
//	wdm-cluster down    stop and remove everything up made
//	wdm-cluster forward (internal) relay a port on 127.0.0.1 into the namespace
//	wdm-cluster ko build --bare PKG   what ko does, into the cluster's containerd (KO=... for knative/deploy.sh)
//	wdm-cluster postgres-image        the Postgres image of Debian's binaries, imported; prints it pinned
//	wdm-cluster func-image [-f func.yaml]           the image `func build` makes, imported; prints it pinned
//	wdm-cluster func-service [-f func.yaml] IMAGE  prints the Knative Service `func deploy` makes of func.yaml
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"

	"github.com/wdm-knative/webshop/cluster/internal/image"
	"github.com/wdm-knative/webshop/cluster/internal/netns"
	"github.com/wdm-knative/webshop/cluster/internal/phases"
	"github.com/wdm-knative/webshop/cluster/internal/shopimages"
)

func main() {
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: wdm-cluster up|down|forward [flags]")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var err error
	switch os.Args[1] {
	case "up", "down":
		err = upDown(ctx, log, os.Args[1], os.Args[2:])
	case "forward":
		err = forward(ctx, log, os.Args[2:])
	case "ko":
		err = koBuild(ctx, os.Args[2:])
	case "postgres-image":
		err = postgresImage(ctx)
	case "func-image":
		err = funcImage(ctx, os.Args[2:])
	case "func-service":
		err = funcService(os.Args[2:])
	default:
		err = fmt.Errorf("unknown command %q: want up, down or forward", os.Args[1])
	}
	if err != nil {
		log.Error(os.Args[1]+" failed", "err", err)
		// The error often carries a component's log lines: print them as they are.
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil {
		return v
	}
	return def
}

func defaultCache() string {
	if c := os.Getenv("WDM_CLUSTER_CACHE"); c != "" {
		return c
	}
	d, err := os.UserCacheDir()
	if err != nil {
		d = "/var/cache"
	}
	return filepath.Join(d, "wdm-cluster")
}

func upDown(ctx context.Context, log *slog.Logger, cmd string, args []string) error {
	fs := flag.NewFlagSet(cmd, flag.ExitOnError)
	o := phases.Options{Log: log}
	fs.StringVar(&o.Dir, "dir", envOr("WDM_CLUSTER_DIR", "/var/lib/wdm-cluster"), "state folder (removed by down)")
	fs.StringVar(&o.Cache, "cache", defaultCache(), "build and image cache, kept across clusters")
	fs.StringVar(&o.Modules, "modules", "modules", "the wrapper modules (cluster/modules)")
	fs.IntVar(&o.APIPort, "api-port", envInt("WDM_CLUSTER_API_PORT", 16443), "API server on 127.0.0.1")
	fs.IntVar(&o.IngressPort, "ingress-port", envInt("WDM_CLUSTER_INGRESS_PORT", 18080), "public ingress on 127.0.0.1")
	fs.IntVar(&o.LocalPort, "local-port", envInt("WDM_CLUSTER_LOCAL_PORT", 18081), "cluster-local ingress on 127.0.0.1")
	_ = fs.Parse(args)
	var err error
	if o.Dir, err = filepath.Abs(o.Dir); err != nil {
		return err
	}
	if o.Modules, err = filepath.Abs(o.Modules); err != nil {
		return err
	}
	if o.Self, err = os.Executable(); err != nil {
		return err
	}
	if cmd == "down" {
		return phases.Down(ctx, o)
	}
	return phases.Up(ctx, o)
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// forward relays every connection to listen (on the host) to addr inside
// the namespace, until it is stopped.
func forward(ctx context.Context, log *slog.Logger, args []string) error {
	fs := flag.NewFlagSet("forward", flag.ExitOnError)
	name := fs.String("netns", "wdm-cluster", "network namespace")
	listen := fs.String("listen", "", "host address, on loopback")
	to := fs.String("to", "", "address inside the namespace")
	_ = fs.Parse(args)
	host, _, err := net.SplitHostPort(*listen)
	if err != nil {
		return err
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("forward listens on loopback only, not %q", *listen)
	}
	ns := netns.Namespace{Name: *name}
	l, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	go func() { <-ctx.Done(); l.Close() }()
	log.Info("forwarding", "listen", *listen, "to", *to, "netns", *name)
	for {
		c, err := l.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		go relay(ctx, log, ns, c, *to)
	}
}

func relay(ctx context.Context, log *slog.Logger, ns netns.Namespace, c net.Conn, to string) {
	defer c.Close()
	up, err := ns.DialContext(ctx, "tcp", to)
	if err != nil {
		log.Warn("dial", "to", to, "err", err)
		return
	}
	defer up.Close()
	var wg sync.WaitGroup
	wg.Add(2)
	pipe := func(dst, src net.Conn) {
		defer wg.Done()
		if _, err := io.Copy(dst, src); err != nil && !errors.Is(err, net.ErrClosed) {
			log.Debug("relay", "err", err)
		}
		if tc, ok := dst.(*net.TCPConn); ok {
			_ = tc.CloseWrite()
		}
	}
	go pipe(up, c)
	go pipe(c, up)
	wg.Wait()
}

// koBuild answers `ko build --bare ./cmd/X` as knative/deploy.sh calls it
// (KO_DOCKER_REPO names the image), from the module in the working folder,
// and prints the pinned reference as ko does.
func koBuild(ctx context.Context, args []string) error {
	if len(args) != 3 || args[0] != "build" || args[1] != "--bare" {
		return fmt.Errorf("usage: wdm-cluster ko build --bare PKG (got %q)", args)
	}
	repo := os.Getenv("KO_DOCKER_REPO")
	if repo == "" {
		return errors.New("KO_DOCKER_REPO is not set")
	}
	info, err := runningCluster()
	if err != nil {
		return err
	}
	dir, err := os.Getwd()
	if err != nil {
		return err
	}
	ref, err := shopimages.KoBuild(ctx, info, dir, args[2], repo)
	if err != nil {
		return err
	}
	fmt.Println(ref)
	return nil
}

// postgresImage builds and imports the Postgres image the local overlay
// runs, and prints its pinned reference.
func postgresImage(ctx context.Context) error {
	return printPinned(ctx, func(phases.Info) (image.Spec, error) { return shopimages.Postgres() })
}

// printPinned builds the image spec returns for the running cluster,
// imports it into the cluster's containerd and prints its pinned
// reference (repo@sha256:DIGEST), as ko prints what it pushed.
func printPinned(ctx context.Context, spec func(phases.Info) (image.Spec, error)) error {
	info, err := runningCluster()
	if err != nil {
		return err
	}
	s, err := spec(info)
	if err != nil {
		return err
	}
	ref, err := shopimages.Pin(ctx, info, s)
	if err != nil {
		return err
	}
	fmt.Println(ref)
	return nil
}

// runningCluster reads the cluster.json of the cluster up made.
func runningCluster() (phases.Info, error) {
	return phases.ReadInfo(envOr("WDM_CLUSTER_DIR", "/var/lib/wdm-cluster"))
}
