package stack

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/wdm-knative/webshop/local/procsched"
	"github.com/wdm-knative/webshop/local/servers"
)

// Component is one supervised OS process, the local counterpart of a pod:
// how to start it, how to tell it is ready, how to stop it.
type Component struct {
	Name string
	// Command builds a fresh, unstarted command for every (re)start.
	Command func() (*exec.Cmd, error)
	// Ready returns nil once the process serves; nil Ready means "ready when started".
	Ready func(ctx context.Context) error
	// ReadyTimeout bounds one readiness wait; an instance not ready by then is
	// killed and restarted, as a failing startup probe would. Default 1 minute.
	ReadyTimeout time.Duration
	// StopSignal asks the process to shut down (default SIGTERM; Postgres wants
	// SIGINT, its "fast" shutdown, because SIGTERM waits for clients to leave).
	StopSignal syscall.Signal
	// StopGrace is how long a stopping process may take before it is killed.
	// Default 10 s.
	StopGrace time.Duration
	// Log, when set, receives the process's stdout and stderr (appended).
	Log string
	// Sched are the process's scheduling settings (timer slack, policy).
	Sched procsched.Settings
}

// Restart timing. A process that dies is started again after restartDelay; one
// that keeps dying young waits twice as long each time, up to maxRestartDelay,
// so a crash loop neither spins the 2 cores nor floods the logs.
const (
	restartDelay    = 200 * time.Millisecond
	maxRestartDelay = 5 * time.Second
	stableAfter     = 10 * time.Second // an instance that lived this long was healthy
	giveUpBeforeUp  = 3                // exits before the first ready: a broken component, not a crash
)

// ErrUnknownComponent is returned for a name the supervisor does not run.
var ErrUnknownComponent = errors.New("unknown component")

// Supervisor runs components and restarts them when they exit.
type Supervisor struct {
	log *slog.Logger

	mu       sync.Mutex
	procs    map[string]*proc
	batches  [][]*proc // in start order; Stop goes backwards, one batch at a time
	stopping bool
	stopped  chan struct{} // closed by Stop: cuts restart waits short
	wg       sync.WaitGroup
}

// proc is the state of one component; every field below c is guarded by Supervisor.mu.
type proc struct {
	c Component

	cmd      *exec.Cmd
	exited   chan struct{} // closed when the current instance has exited
	ready    bool
	dying    bool          // Kill was called on the current instance
	changed  chan struct{} // closed (and replaced) on every state change, for waiters
	starts   int
	everUp   bool
	failures int // consecutive exits of short-lived instances
	gaveUp   error
	lastExit error // how the last instance ended
}

// NewSupervisor returns a supervisor that logs to log.
func NewSupervisor(log *slog.Logger) *Supervisor {
	return &Supervisor{log: log, procs: map[string]*proc{}, stopped: make(chan struct{})}
}

// Start runs the components as one batch and waits until all are ready. The
// batch is stopped together, after every batch started later.
func (s *Supervisor) Start(ctx context.Context, comps ...Component) error {
	s.mu.Lock()
	if s.stopping {
		s.mu.Unlock()
		return errors.New("supervisor is stopping")
	}
	var batch []*proc
	for _, c := range comps {
		if _, dup := s.procs[c.Name]; dup {
			s.mu.Unlock()
			return fmt.Errorf("component %q started twice", c.Name)
		}
		if c.ReadyTimeout == 0 {
			c.ReadyTimeout = time.Minute
		}
		if c.StopSignal == 0 {
			c.StopSignal = syscall.SIGTERM
		}
		if c.StopGrace == 0 {
			c.StopGrace = 10 * time.Second
		}
		p := &proc{c: c, changed: make(chan struct{})}
		s.procs[c.Name] = p
		batch = append(batch, p)
	}
	s.batches = append(s.batches, batch)
	s.mu.Unlock()

	for _, p := range batch {
		s.wg.Add(1)
		go s.run(p)
	}
	for _, p := range batch {
		if err := s.WaitReady(ctx, p.c.Name); err != nil {
			return err
		}
	}
	return nil
}

// run keeps one component running until the supervisor stops.
func (s *Supervisor) run(p *proc) {
	defer s.wg.Done()
	log := s.log.With("component", p.c.Name)
	for {
		began := time.Now()
		cmd, exited, err := s.startInstance(p)
		if err == nil {
			<-exited
			// Like a pod whose container died: nothing of the old instance
			// may linger (a postgres backend would block the next postmaster).
			servers.KillGroup(cmd, syscall.SIGKILL)
			servers.WaitGroupGone(cmd.Process.Pid)
		} else {
			log.Error("start failed", "err", err)
		}

		s.mu.Lock()
		status := "start failed"
		if err == nil {
			status = exitString(p.lastExit)
		}
		p.cmd, p.ready = nil, false
		p.notify()
		if s.stopping {
			s.mu.Unlock()
			return
		}
		if time.Since(began) < stableAfter {
			p.failures++
		} else {
			p.failures = 0
		}
		if !p.everUp && p.failures >= giveUpBeforeUp {
			p.gaveUp = fmt.Errorf("%s exited %d times before it was ever ready; its log %s ends with:\n%s",
				p.c.Name, p.failures, p.c.Log, tail(p.c.Log, 10))
			p.notify()
			s.mu.Unlock()
			log.Error("giving up", "err", p.gaveUp)
			return
		}
		delay := backoff(p.failures)
		s.mu.Unlock()

		log.Warn("exited; restarting", "after", delay.String(), "status", status)
		select {
		case <-time.After(delay):
		case <-s.stopped:
			return
		}
	}
}

// backoff is the wait before a restart after n consecutive short-lived instances.
func backoff(n int) time.Duration {
	d := restartDelay
	for i := 1; i < n && d < maxRestartDelay; i++ {
		d *= 2
	}
	return min(d, maxRestartDelay)
}

// tail returns the last n lines of the file at path, for error messages.
func tail(path string, n int) string {
	if path == "" {
		return ""
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// exitString describes how a process ended ("signal: killed", "exit status 1").
func exitString(err error) string {
	if err == nil {
		return "exit status 0"
	}
	return err.Error()
}

// startInstance starts one process of p and watches its readiness.
func (s *Supervisor) startInstance(p *proc) (*exec.Cmd, <-chan struct{}, error) {
	cmd, err := p.c.Command()
	if err != nil {
		return nil, nil, err
	}
	// Its own process group, so that stop and kill reach every process it
	// forks (postgres backends, Erlang port programs); Pdeathsig, so that it
	// dies with the supervisor even when the supervisor is SIGKILLed.
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Setpgid = true
	cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL

	var logFile *os.File
	if p.c.Log != "" {
		if logFile, err = os.OpenFile(p.c.Log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644); err != nil {
			return nil, nil, err
		}
		// A command may come with a log of its own open; ours replaces it.
		for _, w := range []any{cmd.Stdout, cmd.Stderr} {
			if f, ok := w.(*os.File); ok && f != os.Stdout && f != os.Stderr {
				_ = f.Close()
			}
		}
		cmd.Stdout, cmd.Stderr = logFile, logFile
	}

	s.mu.Lock()
	if s.stopping {
		s.mu.Unlock()
		if logFile != nil {
			logFile.Close()
		}
		return nil, nil, errors.New("supervisor is stopping")
	}
	p.starts++
	n := p.starts
	if logFile != nil {
		fmt.Fprintf(logFile, `{"time":%q,"level":"INFO","msg":"supervisor: start","component":%q,"start":%d}`+"\n",
			time.Now().Format(time.RFC3339Nano), p.c.Name, n)
	}
	err = procsched.Start(cmd, p.c.Sched)
	if logFile != nil {
		logFile.Close() // the child has its own copy
	}
	if err != nil {
		s.mu.Unlock()
		return nil, nil, fmt.Errorf("start %s: %w", cmd.Path, err)
	}
	exited := make(chan struct{})
	p.cmd, p.exited, p.ready, p.dying = cmd, exited, false, false
	p.notify()
	s.mu.Unlock()
	s.log.Info("started", "component", p.c.Name, "pid", cmd.Process.Pid, "start", n)

	go func() {
		err := cmd.Wait()
		s.mu.Lock()
		p.lastExit = err
		s.mu.Unlock()
		close(exited)
	}()
	go s.watchReady(p, cmd, exited)
	return cmd, exited, nil
}

// watchReady marks an instance ready, or kills it when it does not become
// ready in time (it is then restarted like any exited instance).
func (s *Supervisor) watchReady(p *proc, cmd *exec.Cmd, exited <-chan struct{}) {
	ctx, cancel := context.WithTimeout(context.Background(), p.c.ReadyTimeout)
	defer cancel()
	go func() {
		select {
		case <-exited:
			cancel()
		case <-ctx.Done():
		}
	}()
	var err error
	if p.c.Ready != nil {
		err = p.c.Ready(ctx)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	select {
	case <-exited:
		return // that instance is gone; run restarts it
	default:
	}
	if p.cmd != cmd || p.dying {
		return
	}
	if err != nil {
		s.log.Error("not ready in time; killing", "component", p.c.Name, "err", err)
		servers.KillGroup(cmd, syscall.SIGKILL)
		return
	}
	// failures is not reset here: an instance that is ready and then dies at
	// once is still a crash loop; only a long life resets it.
	p.ready, p.everUp = true, true
	p.notify()
	s.log.Info("ready", "component", p.c.Name, "pid", cmd.Process.Pid)
}

// notify wakes everyone waiting for a state change; s.mu must be held.
func (p *proc) notify() {
	close(p.changed)
	p.changed = make(chan struct{})
}

// WaitReady blocks until the named component has a ready instance.
func (s *Supervisor) WaitReady(ctx context.Context, name string) error {
	for {
		s.mu.Lock()
		p, ok := s.procs[name]
		if !ok {
			s.mu.Unlock()
			return fmt.Errorf("%w %q", ErrUnknownComponent, name)
		}
		ready, gaveUp, changed := p.ready, p.gaveUp, p.changed
		s.mu.Unlock()
		switch {
		case ready:
			return nil
		case gaveUp != nil:
			return gaveUp
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return fmt.Errorf("waiting for %s: %w", name, ctx.Err())
		}
	}
}

// Kill ends the named component's process group with SIGKILL, as a crash
// would, and returns once it has exited. The supervisor then restarts it.
func (s *Supervisor) Kill(name string) error {
	s.mu.Lock()
	p, ok := s.procs[name]
	if !ok {
		s.mu.Unlock()
		return fmt.Errorf("%w %q", ErrUnknownComponent, name)
	}
	cmd, exited := p.cmd, p.exited
	if cmd == nil {
		s.mu.Unlock()
		return fmt.Errorf("%s is not running", name)
	}
	// From now on a waiter waits for the next instance.
	p.ready, p.dying = false, true
	p.notify()
	servers.KillGroup(cmd, syscall.SIGKILL)
	s.mu.Unlock()
	<-exited
	return nil
}

// Pid is the process id of the component's current instance (0 if none).
func (s *Supervisor) Pid(name string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if p, ok := s.procs[name]; ok && p.cmd != nil {
		return p.cmd.Process.Pid
	}
	return 0
}

// Starts counts how often the named component was started (restarts + 1).
func (s *Supervisor) Starts(name string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if p, ok := s.procs[name]; ok {
		return p.starts
	}
	return 0
}

// Names lists the components in start order.
func (s *Supervisor) Names() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, b := range s.batches {
		for _, p := range b {
			out = append(out, p.c.Name)
		}
	}
	return out
}

// Stop stops every component, the last started batch first, and returns when
// no process it started is left. Safe to call more than once.
func (s *Supervisor) Stop() {
	s.mu.Lock()
	if !s.stopping {
		s.stopping = true
		close(s.stopped)
	}
	batches := s.batches
	s.mu.Unlock()
	for i := len(batches) - 1; i >= 0; i-- {
		var wg sync.WaitGroup
		for _, p := range batches[i] {
			wg.Add(1)
			go func() { defer wg.Done(); s.stopOne(p) }()
		}
		wg.Wait()
	}
	s.wg.Wait()
}

// stopOne asks the process to stop, kills it after the grace period, and
// then kills whatever is left in its process group.
func (s *Supervisor) stopOne(p *proc) {
	s.mu.Lock()
	cmd, exited := p.cmd, p.exited
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(p.c.StopSignal)
	select {
	case <-exited:
	case <-time.After(p.c.StopGrace):
		s.log.Warn("did not stop in time; killing", "component", p.c.Name)
	}
	// Children outlive their leader when it exits first (or was too slow).
	servers.KillGroup(cmd, syscall.SIGKILL)
	<-exited
	// The leader's exit says nothing of the rest of its group, which dies
	// of the SIGKILL a moment later: Stop promises that nothing is left.
	servers.WaitGroupGone(cmd.Process.Pid)
	s.log.Info("stopped", "component", p.c.Name)
}
