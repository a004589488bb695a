// Command bench is the web shop's load client (`make bench`): closed-loop
// clients (or, with -rate, clients paced to a fixed arrival rate) against a
// running gateway for a fixed time, then a consistency audit through the
// public API.
//
//	bench -workload flow|checkout|mixed -clients N [-rate R] -duration D -gateway URL -out DIR
//	up -- bench -workload mixed ...   (a stack of its own, stopped afterwards)
//
// It prints a progress line every second and a report at the end, writes
// DIR/summary.json and DIR/chart.svg, and exits 1 when a request failed
// unexpectedly or the audit found an inconsistency, 2 when it could not run.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/wdm-knative/webshop/tools/loadtest"
)

func main() {
	os.Exit(run())
}

func run() int {
	cfg := loadtest.DefaultConfig()
	// WDM_GATEWAY_URL is what `up -- bench ...` hands its command.
	for _, name := range []string{"WDM_GATEWAY_URL", "WDM_GATEWAY"} {
		if g := os.Getenv(name); g != "" {
			cfg.Gateway = g
		}
	}
	flag.StringVar(&cfg.Workload, "workload", cfg.Workload, "flow (create order, add 1-2 items, checkout), checkout (2024: batch_init, checkout random orders) or mixed (2023 scenarios)")
	flag.IntVar(&cfg.Clients, "clients", cfg.Clients, "concurrent clients, each with one request in flight")
	flag.Float64Var(&cfg.Rate, "rate", 0, "rounds (flows, checkouts, scenarios) started per second in all, up to what -clients keep in flight; 0: closed loop")
	flag.DurationVar(&cfg.Duration, "duration", cfg.Duration, "length of the measured phase (setup not counted)")
	flag.StringVar(&cfg.Gateway, "gateway", cfg.Gateway, "gateway base URL ($WDM_GATEWAY or $WDM_GATEWAY_URL set the default)")
	flag.Uint64Var(&cfg.Seed, "seed", cfg.Seed, "seed of every random choice")
	out := flag.String("out", "", "folder for summary.json and chart.svg (default .wdm/bench/<workload>)")
	flag.IntVar(&cfg.Items, "items", cfg.Items, "flow: items made in setup")
	flag.IntVar(&cfg.Users, "users", cfg.Users, "flow: users made in setup")
	flag.Int64Var(&cfg.FlowStock, "stock", cfg.FlowStock, "flow: stock of each item")
	flag.Int64Var(&cfg.FlowCredit, "credit", cfg.FlowCredit, "flow: credit of each user")
	flag.IntVar(&cfg.BatchOrders, "batch-orders", cfg.BatchOrders, "checkout: orders of batch_init")
	flag.BoolVar(&cfg.FreshOrders, "fresh-orders", false, "checkout: check out each order once instead of random orders with repeats (for cost comparisons)")
	flag.IntVar(&cfg.BatchItems, "batch-items", cfg.BatchItems, "checkout: items of batch_init")
	flag.IntVar(&cfg.BatchUsers, "batch-users", cfg.BatchUsers, "checkout: users of batch_init")
	flag.Int64Var(&cfg.BatchStock, "batch-stock", cfg.BatchStock, "checkout: starting stock of each item")
	flag.Int64Var(&cfg.BatchCredit, "batch-credit", cfg.BatchCredit, "checkout: starting credit of each user")
	flag.Int64Var(&cfg.BatchPrice, "batch-price", cfg.BatchPrice, "checkout: price of each item")
	flag.IntVar(&cfg.AuditConc, "audit-clients", cfg.AuditConc, "concurrent reads of the audit")
	flag.IntVar(&cfg.AuditSample, "audit-sample", cfg.AuditSample, "checkout: random items and users the audit checks besides those of the orders checked out")
	flag.Parse()
	if flag.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "bench: unexpected arguments %q\n", flag.Args())
		return 2
	}
	if *out == "" {
		*out = filepath.Join(".wdm", "bench", cfg.Workload)
	}
	if err := cfg.Validate(); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		return 2
	}
	cfg.Progress = os.Stdout

	// The first Ctrl-C ends the measured phase early (the audit still
	// runs); a second one kills as usual.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	context.AfterFunc(ctx, stop)
	defer stop()

	s, err := loadtest.Run(ctx, cfg)
	if s != nil {
		if werr := s.WriteFiles(*out); werr != nil {
			fmt.Fprintln(os.Stderr, "bench:", werr)
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		if errors.Is(err, loadtest.ErrSetup) {
			return 2
		}
		return 1
	}
	s.Report(os.Stdout)
	fmt.Printf("summary: %s/summary.json, chart: %s/chart.svg\n", *out, *out)
	if !s.Passed {
		return 1
	}
	return 0
}
