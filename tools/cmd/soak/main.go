// Command soak is the sustained run of `make soak`: the flow workload at a
// fixed rate (about 70 % of capacity) for a long time against the stack
// `make up` runs, sampling the stack every few seconds. It exits 0 only when
// everything stayed flat (see tools/soak), the load client saw no
// unexpected failure and the audit was consistent.
//
//	soak -duration 10m [-rate R | -fraction 0.7 -probe 20s] -interval 5s -out DIR
//
// Without -rate it first measures capacity: a closed-loop flow run of -probe.
// It prints a line per sample, then a table of verdicts, and writes
// DIR/summary.json.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	eventingv1 "knative.dev/eventing/pkg/apis/eventing/v1"

	"github.com/wdm-knative/webshop/broker"
	"github.com/wdm-knative/webshop/local/stackfile"
	"github.com/wdm-knative/webshop/tools/loadtest"
	"github.com/wdm-knative/webshop/tools/soak"
)

func main() {
	os.Exit(run())
}

// settings are the flags of a soak run.
type settings struct {
	dir, out, triggers, brokerName string
	duration, interval, probe      time.Duration
	rate, fraction                 float64
	clients                        int
}

// Summary is what summary.json holds.
type Summary struct {
	Passed    bool     `json:"passed"`
	Reasons   []string `json:"reasons,omitempty"`
	Capacity  float64  `json:"capacity_checkouts_per_s,omitempty"` // measured by the probe
	Rate      float64  `json:"rate_flows_per_s"`
	DurationS float64  `json:"duration_s"`
	IntervalS float64  `json:"interval_s"`
	// Load is the load client's summary (its timeline left out).
	Load     *loadtest.Summary `json:"load"`
	Verdicts []soak.Verdict    `json:"verdicts"`
	Samples  []soak.Sample     `json:"samples"`
}

func run() int {
	var s settings
	flag.StringVar(&s.dir, "dir", ".wdm", "state folder of the running stack (make up's WDM_DIR), where stack.json is")
	flag.StringVar(&s.out, "out", "", "folder for summary.json (default DIR/soak)")
	flag.StringVar(&s.triggers, "triggers", "knative/base", "folder of the Trigger manifests (the broker's queues)")
	flag.StringVar(&s.brokerName, "broker", "shop", "the broker's name (BROKER_NAME), part of its queues' names")
	flag.DurationVar(&s.duration, "duration", 10*time.Minute, "length of the sustained run")
	flag.DurationVar(&s.interval, "interval", 5*time.Second, "time between samples")
	flag.DurationVar(&s.probe, "probe", 20*time.Second, "length of the closed-loop run that measures capacity (without -rate)")
	flag.Float64Var(&s.rate, "rate", 0, "flows per second; 0: -fraction of the capacity the probe measures")
	flag.Float64Var(&s.fraction, "fraction", 0.7, "share of the measured capacity to run at")
	flag.IntVar(&s.clients, "clients", 64, "most flows in flight at once")
	flag.Parse()
	if flag.NArg() > 0 || s.rate < 0 || s.fraction <= 0 || s.fraction > 1 || s.duration <= 0 || s.interval <= 0 || s.clients < 1 {
		fmt.Fprintln(os.Stderr, "soak: bad arguments (see soak -h)")
		return 2
	}
	if s.out == "" {
		s.out = filepath.Join(s.dir, "soak")
	}
	// The first Ctrl-C ends the run early (the audit and verdicts still
	// come); a second one kills as usual.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	context.AfterFunc(ctx, stop)
	defer stop()

	sum, err := soakRun(ctx, s)
	if sum != nil {
		if werr := writeSummary(s.out, sum); werr != nil {
			fmt.Fprintln(os.Stderr, "soak:", werr)
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "soak:", err)
		return 2
	}
	report(os.Stdout, sum)
	fmt.Printf("summary: %s\n", filepath.Join(s.out, "summary.json"))
	if !sum.Passed {
		return 1
	}
	return 0
}

// soakRun measures capacity (unless a rate is given), then runs the paced
// flow workload while sampling, and judges. An error means the run could
// not be made at all.
func soakRun(ctx context.Context, s settings) (*Summary, error) {
	ends, err := stackfile.Read(s.dir)
	if err != nil {
		return nil, err
	}
	triggers, err := broker.LoadTriggers(s.triggers)
	if err != nil {
		return nil, err
	}
	targets, err := targetsOf(ends, triggers, s.brokerName)
	if err != nil {
		return nil, err
	}
	sampler, err := soak.NewSampler(ctx, targets)
	if err != nil {
		return nil, err
	}
	defer sampler.Close()
	if first := sampler.Sample(ctx); len(first.Errors) > 0 {
		return nil, fmt.Errorf("the stack cannot be sampled: %s", strings.Join(first.Errors, "; "))
	}

	sum := &Summary{Rate: s.rate, DurationS: s.duration.Seconds(), IntervalS: s.interval.Seconds()}
	if sum.Rate == 0 {
		fmt.Printf("measuring capacity: closed-loop flow for %s...\n", s.probe)
		cfg := loadtest.DefaultConfig()
		cfg.Workload, cfg.Gateway, cfg.Duration = loadtest.Flow, ends.GatewayURL, s.probe
		probe, err := loadtest.Run(ctx, cfg)
		if err != nil {
			return nil, fmt.Errorf("capacity probe: %w", err)
		}
		if !probe.Passed {
			return nil, fmt.Errorf("capacity probe failed: %s", strings.Join(probe.Reasons, "; "))
		}
		sum.Capacity, sum.Rate = probe.CheckoutsPerS, s.fraction*probe.CheckoutsPerS
		fmt.Printf("capacity %.1f checkouts/s; soaking at %.1f flows/s\n", sum.Capacity, sum.Rate)
	}

	cfg := loadtest.DefaultConfig()
	cfg.Workload, cfg.Gateway, cfg.Duration, cfg.Clients, cfg.Rate = loadtest.Flow, ends.GatewayURL, s.duration, s.clients, sum.Rate
	// Samples are taken while the load is measured: setup and audit are
	// other work, and would blur the first and last thirds.
	watchCtx, endWatch := context.WithCancel(ctx)
	defer endWatch()
	watched := make(chan []soak.Sample, 1)
	cfg.Phase = func(measuring bool) {
		if !measuring {
			endWatch()
			return
		}
		fmt.Printf("soaking %s at %.1f flows/s, a sample every %s\n", s.duration, sum.Rate, s.interval)
		go func() {
			watched <- sampler.Watch(watchCtx, s.interval, func(sm soak.Sample) { printSample(os.Stdout, sm) })
		}()
	}
	load, err := loadtest.Run(ctx, cfg)
	endWatch()
	if load != nil {
		load.Timeline = nil // summary.json holds the samples; the load's own per-second figures would double it
		sum.Load = load
	}
	if err != nil {
		return sum, err
	}
	sum.Samples = <-watched
	sum.Verdicts = soak.Flat(sum.Samples, targets, sampler.MaxConnections)
	judge(sum)
	return sum, nil
}

// judge sets Passed and Reasons from the verdicts and the load run.
func judge(sum *Summary) {
	for _, v := range sum.Verdicts {
		if !v.OK {
			sum.Reasons = append(sum.Reasons, v.Series+": "+v.Reason)
		}
	}
	if !sum.Load.Passed {
		sum.Reasons = append(sum.Reasons, "load run: "+strings.Join(sum.Load.Reasons, "; "))
	}
	// A shop that could not keep up the rate was not soaked at that rate.
	if got := sum.Load.CheckoutsPerS; got < 0.9*sum.Rate {
		sum.Reasons = append(sum.Reasons, fmt.Sprintf("%.1f checkouts/s, below 90 %% of the %.1f flows/s asked for", got, sum.Rate))
	}
	sum.Passed = len(sum.Reasons) == 0
}

// targetsOf names what to sample: every process's metrics, the databases'
// server, and the broker's queues, named as broker/topology.go names them
// ("broker.<name>.trigger.<trigger>", "broker.<name>.dead-letter"); a
// queue that is not there fails the first sample.
func targetsOf(e stackfile.Endpoints, triggers []eventingv1.Trigger, brokerName string) (soak.Targets, error) {
	t := soak.Targets{Metrics: e.Metrics, PostgresDSN: e.PostgresDSN, AMQPURL: e.AMQPURL,
		DeadLetterQueue: "broker." + brokerName + ".dead-letter"}
	for _, tr := range triggers {
		if tr.Spec.Broker == brokerName {
			t.Queues = append(t.Queues, "broker."+brokerName+".trigger."+tr.Name)
		}
	}
	if len(t.Queues) == 0 {
		return t, errors.New("no Trigger of broker " + brokerName)
	}
	return t, nil
}

func printSample(w io.Writer, sm soak.Sample) {
	var rss, goroutines float64
	for _, p := range sm.Processes {
		rss += p.RSSBytes
		goroutines += p.Goroutines
	}
	conns, depth := 0, 0
	for _, n := range sm.PGConnections {
		conns += n
	}
	for _, n := range sm.Queues {
		depth += n
	}
	fmt.Fprintf(w, "%6.0f s  processes: %.0f MiB RSS, %.0f goroutines  postgres: %d connections  queues: %d messages",
		sm.AtS, rss/(1<<20), goroutines, conns, depth)
	if len(sm.Errors) > 0 {
		fmt.Fprintf(w, "  (%d readings failed: %s)", len(sm.Errors), sm.Errors[0])
	}
	fmt.Fprintln(w)
}

// report prints the load's figures and a table of verdicts.
func report(w io.Writer, sum *Summary) {
	sum.Load.Report(w)
	fmt.Fprintf(w, "\nsoak: %d samples over %.0f s at %.1f flows/s\n", len(sum.Samples), sum.Load.DurationS, sum.Rate)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "series\tfirst third\tlast third\tallowed\tmax\tceiling\tverdict\t")
	for _, v := range sum.Verdicts {
		verdict := "flat"
		if !v.OK {
			verdict = "FAIL: " + v.Reason
		}
		ceiling := ""
		if v.Ceiling > 0 || strings.HasPrefix(v.Series, "dead letters") {
			ceiling = fmt.Sprintf("%.0f", v.Ceiling)
		}
		first, last, allowed := human(v.Series, v.FirstMean), human(v.Series, v.LastMean), human(v.Series, v.Allowed)
		if strings.HasPrefix(v.Series, "restarts ") { // a count, not a trend
			first, last, allowed = "", "", ""
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n", v.Series, first, last, allowed, human(v.Series, v.Max), ceiling, verdict)
	}
	tw.Flush()
	if sum.Passed {
		fmt.Fprintln(w, "soak: passed")
		return
	}
	fmt.Fprintln(w, "soak: FAILED")
	for _, r := range sum.Reasons {
		fmt.Fprintln(w, "  "+r)
	}
}

// human shows bytes in MiB, counts as they are.
func human(series string, x float64) string {
	if strings.HasPrefix(series, "rss ") {
		return fmt.Sprintf("%.1f MiB", x/(1<<20))
	}
	return fmt.Sprintf("%.1f", x)
}

func writeSummary(dir string, sum *Summary) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	b, err := json.MarshalIndent(sum, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "summary.json"), append(b, '\n'), 0o644)
}
