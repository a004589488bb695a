package loadtest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/wdm-knative/webshop/internal/shopclient"
)

// Workload names.
const (
	Flow     = "flow"
	Checkout = "checkout"
	Mixed    = "mixed"
)

// Config says what load to put on which gateway.
type Config struct {
	Workload string // Flow, Checkout or Mixed
	Clients  int    // concurrent clients, each one request at a time
	// Rate, when positive, paces the clients: rounds (a flow, a checkout, a
	// scenario) start at this many per second in all, whatever the answer
	// times, up to what Clients can keep in flight. 0: closed loop, each
	// client starts its next round as soon as the last one ended.
	Rate     float64
	Duration time.Duration // of the measured phase
	Gateway  string        // base URL, e.g. http://127.0.0.1:8000
	Seed     uint64        // of every random choice; runs with one seed make the same choices

	// flow: items and users made in setup, with this much stock and credit.
	Items, Users          int
	FlowStock, FlowCredit int64

	// checkout: the batch_init sizes (the 2024 benchmark: 100,000 of each,
	// stock and credit 1,000,000, price 1).
	BatchOrders, BatchItems, BatchUsers int
	BatchStock, BatchCredit, BatchPrice int64
	// FreshOrders makes the checkout workload check out each order once
	// (in a scattered order) instead of random ones with repeats.
	FreshOrders bool

	// AuditConc is how many reads the audit sends at once; AuditSample how
	// many random items and users the checkout audit checks besides those
	// its orders name.
	AuditConc, AuditSample int

	// Progress receives a line every second and the final report; nil: none.
	Progress io.Writer
	// Phase, when set, is told when the measured phase begins (true) and
	// ends (false), so that an observer (the soak run) can leave setup and
	// audit out of what it watches.
	Phase func(measuring bool)
}

// DefaultConfig is the configuration of `make bench` without settings.
func DefaultConfig() Config {
	return Config{
		Workload: Flow, Clients: 32, Duration: 30 * time.Second, Gateway: "http://127.0.0.1:8000", Seed: 1,
		Items: 1000, Users: 1000, FlowStock: 1_000_000, FlowCredit: 1_000_000,
		BatchOrders: 100_000, BatchItems: 100_000, BatchUsers: 100_000,
		BatchStock: 1_000_000, BatchCredit: 1_000_000, BatchPrice: 1,
		AuditConc: 64, AuditSample: 1000,
	}
}

// Validate reports the first setting that makes no sense.
func (c Config) Validate() error {
	switch {
	case c.Workload != Flow && c.Workload != Checkout && c.Workload != Mixed:
		return fmt.Errorf("unknown workload %q (flow, checkout or mixed)", c.Workload)
	case c.Clients < 1:
		return errors.New("clients must be at least 1")
	case c.Rate < 0:
		return errors.New("rate must not be negative")
	case c.Duration <= 0:
		return errors.New("duration must be positive")
	case c.Gateway == "":
		return errors.New("gateway is required")
	case c.Workload == Flow && (c.Items < 2 || c.Users < 1 || c.FlowStock < 1 || c.FlowCredit < 1):
		return errors.New("flow needs at least 2 items, 1 user, and positive stock and credit")
	case c.Workload == Checkout && (c.BatchOrders < 1 || c.BatchItems < 1 || c.BatchUsers < 1 || c.BatchStock < 0 || c.BatchCredit < 0 || c.BatchPrice < 0):
		return errors.New("checkout needs positive batch sizes and non-negative stock, credit and price")
	case c.AuditConc < 1:
		return errors.New("audit concurrency must be at least 1")
	}
	return nil
}

func (c Config) setupConc() int { return max(c.Clients, 32) }

// ErrSetup marks a run that could not start its load: the shop did not
// answer the setup (the figures mean nothing then).
var ErrSetup = errors.New("setup failed")

// Run puts the load on the shop and returns its figures. It returns an
// error only when the run could not be measured or audited at all; a shop
// that failed requests or the audit yields a Summary with Passed false.
// Cancelling ctx ends the measured phase early; settling and the audit
// still run (bounded by their own timeouts).
func Run(ctx context.Context, cfg Config) (*Summary, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	out := cfg.Progress
	if out == nil {
		out = io.Discard
	}
	var w workload
	switch cfg.Workload {
	case Flow:
		w = newFlow(cfg)
	case Checkout:
		w = newCheckoutLoad(cfg)
	case Mixed:
		w = newMixed(cfg.AuditConc)
	}
	// Idle connections for every client and the audit: a closed-loop client
	// must not pay a TCP handshake per request.
	client := shopclient.New(cfg.Gateway, max(cfg.Clients, cfg.AuditConc, cfg.setupConc())+8)
	s := &Summary{Workload: cfg.Workload, Clients: cfg.Clients, Rate: cfg.Rate, Gateway: cfg.Gateway}

	fmt.Fprintf(out, "setup of %s against %s...\n", cfg.Workload, cfg.Gateway)
	setupBegan := time.Now()
	setupCtx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	err := w.setup(setupCtx, client)
	cancel()
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrSetup, err)
	}
	s.SetupS = time.Since(setupBegan).Seconds()
	fmt.Fprintf(out, "setup took %.1f s; %d clients for %s\n", s.SetupS, cfg.Clients, cfg.Duration)

	cpuBefore := cpuTime()
	machineBefore, machineErr := machineBusy()
	if cfg.Phase != nil {
		cfg.Phase(true)
	}
	start := time.Now()
	s.Started = start.UTC().Format(time.RFC3339)
	rec := NewRecorder(start, cfg.Duration)
	var stopped atomic.Bool
	// paceCtx ends with the measured phase: a client waiting for its next
	// start time stops waiting.
	paceCtx, endPacing := context.WithCancel(ctx)
	defer endPacing()
	timer := time.AfterFunc(cfg.Duration, func() { stopped.Store(true); endPacing() })
	defer timer.Stop()
	// Requests run on a context that the caller's cancel does not end: a
	// cancel stops the loop, the requests in flight get their answers.
	reqCtx := context.WithoutCancel(ctx)
	stopWatch := context.AfterFunc(ctx, func() { stopped.Store(true) })
	defer stopWatch()

	pace := newPacer(start, cfg.Rate)
	var wg sync.WaitGroup
	for i := range cfg.Clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			k := &caller{c: client, rec: rec, stopped: &stopped}
			r := rand.New(rand.NewPCG(cfg.Seed, uint64(i)+100))
			for !stopped.Load() {
				if !pace.wait(paceCtx) {
					return
				}
				w.iterate(reqCtx, k, r)
			}
		}()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	tick := time.NewTicker(time.Second)
	prev := rec.Progress(start)
loop:
	for {
		select {
		case <-done:
			break loop
		case now := <-tick.C:
			p := rec.Progress(now)
			fmt.Fprintln(out, p.Line(prev))
			prev = p
		}
	}
	tick.Stop()
	elapsed := time.Since(start)
	if cfg.Phase != nil {
		cfg.Phase(false)
	}
	s.DurationS = elapsed.Seconds()
	s.Totals, s.Endpoints, s.Timeline, s.Failures = rec.summarize(elapsed)
	s.ClientCPUS = (cpuTime() - cpuBefore).Seconds()
	if machineAfter, err := machineBusy(); err == nil && machineErr == nil {
		s.MachineCPUS = machineAfter - machineBefore
		if s.Checkouts > 0 {
			s.CPUMsPerCheckout = 1000 * s.MachineCPUS / float64(s.Checkouts)
		}
	}
	if m, ok := w.(*mixed); ok {
		s.Scenarios = m.counts()
	}

	// Settle and audit even after a cancel: a run stopped early is still
	// checked.
	after, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Minute)
	defer cancel()
	if s.SettledOrders, err = w.book().settle(after, client, cfg.AuditConc); err != nil {
		return s, fmt.Errorf("settling checkouts without an answer: %w", err)
	}
	fmt.Fprintf(out, "measured %.1f s; auditing...\n", s.DurationS)
	if s.Audit, err = w.audit(after, client); err != nil {
		return s, fmt.Errorf("audit: %w", err)
	}
	s.verdict()
	return s, nil
}

// cpuTime is the CPU this process used so far (user and system): the load
// client shares the machine with the shop, and its share is part of the
// figures.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
