// Command up runs the whole web shop on this machine (`make up`): it installs
// Postgres and RabbitMQ when they are missing, starts private instances of
// them, applies migrations, builds and supervises the broker, the function
// processes and the gateway, and stops everything on SIGINT or SIGTERM.
//
//	up                               run the stack until interrupted
//	up -- CMD ARGS...                run the stack, run CMD against it, stop
//	up -services-only -- CMD ARGS... only Postgres and RabbitMQ, for CMD (make test)
//
// CMD gets WDM_TEST_PG_ADDR and WDM_TEST_AMQP_URL (and WDM_GATEWAY_URL with a
// full stack) in its environment; up exits with CMD's exit code.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"syscall"

	"github.com/wdm-knative/webshop/internal/startup"
	"github.com/wdm-knative/webshop/local/servers"
	"github.com/wdm-knative/webshop/local/stack"
)

func main() {
	os.Exit(run())
}

func run() int {
	servicesOnly := flag.Bool("services-only", false, "start only Postgres and RabbitMQ, in a fresh temporary folder")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "usage: up [-services-only] [-- command args...]\n")
		flag.PrintDefaults()
	}
	flag.Parse()

	var opts stack.Options
	log := startup.Load(&opts, &opts.LogLevel)
	opts.Log, opts.ServicesOnly = log, *servicesOnly

	// Die with whoever started us (make, a CI script) instead of leaving
	// the stack running without a parent; SIGTERM still stops it cleanly.
	_, _, _ = syscall.RawSyscall(syscall.SYS_PRCTL, syscall.PR_SET_PDEATHSIG, uintptr(syscall.SIGTERM), 0)

	ctx, stopSignals := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stopSignals()

	if opts.PGAddr == "" || opts.AMQPURL == "" {
		if err := servers.EnsureInstalled(ctx, log); err != nil {
			log.Error("postgres and rabbitmq are needed", "err", err)
			return 1
		}
	}
	if opts.ServicesOnly {
		// Tests create databases by the hundred: a fresh folder each run
		// keeps .wdm small, and tests never see a previous run's data.
		dir, err := os.MkdirTemp("", "wdm-services-")
		if err != nil {
			log.Error("temp dir", "err", err)
			return 1
		}
		defer os.RemoveAll(dir)
		_ = os.Chmod(dir, 0o755) // the postgres user must reach its data folder
		opts.Dir = dir
	}

	st, err := stack.Start(ctx, opts)
	if err != nil {
		log.Error("stack did not start", "err", err)
		return 1
	}
	defer st.Stop()

	env := []string{"WDM_TEST_PG_ADDR=" + st.PostgresAddr(), "WDM_TEST_AMQP_URL=" + st.AMQPURL()}
	if st.GatewayURL() != "" {
		env = append(env, "WDM_GATEWAY_URL="+st.GatewayURL())
		fmt.Printf("ready on %s (logs in %s)\n", st.GatewayURL(), opts.Dir+"/logs")
	} else {
		fmt.Printf("ready: postgres on %s, rabbitmq on %s\n", st.PostgresAddr(), st.AMQPURL())
	}

	if flag.NArg() == 0 {
		<-ctx.Done()
		log.Info("stopping", "reason", context.Cause(ctx).Error())
		return 0
	}
	return runCommand(ctx, log, flag.Args(), env)
}

// runCommand runs args against the stack and returns its exit code.
func runCommand(ctx context.Context, log *slog.Logger, args, env []string) int {
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	if err := cmd.Start(); err != nil {
		log.Error("command did not start", "cmd", args, "err", err)
		return 1
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var err error
	select {
	case err = <-done:
	case <-ctx.Done():
		// A terminal's Ctrl-C already reached the command (same process
		// group); a SIGTERM sent to us alone is passed on.
		_ = cmd.Process.Signal(syscall.SIGTERM)
		err = <-done
	}
	var exit *exec.ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &exit) && exit.ExitCode() >= 0:
		return exit.ExitCode()
	default:
		log.Error("command failed", "cmd", args, "err", err)
		return 1
	}
}
