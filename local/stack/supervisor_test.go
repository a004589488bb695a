package stack

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/wdm-knative/webshop/local/servers"
)

// supervised is a supervisor stopped when the test ends and a context that
// gives its starts 10 s.
func supervised(t *testing.T) (*Supervisor, context.Context) {
	t.Helper()
	s := NewSupervisor(quietLog())
	t.Cleanup(s.Stop)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return s, ctx
}

func quietLog() *slog.Logger { return slog.New(slog.NewJSONHandler(io.Discard, nil)) }

// sleeper is a component whose process forks a child, so that tests see
// whether a whole process group goes, not only its leader.
func sleeper(name, dir string) Component {
	return Component{
		Name: name,
		Command: func() (*exec.Cmd, error) {
			return exec.Command("sh", "-c", "sleep 300 & sleep 300; wait"), nil
		},
		Log: filepath.Join(dir, name+".log"),
	}
}

// waitGone polls until no process of group pgid is alive.
func waitGone(t *testing.T, pgid int, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for servers.GroupAlive(pgid) {
		if time.Now().After(deadline) {
			t.Fatalf("process group %d still alive after %v", pgid, within)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestSupervisorRestartsKilledProcessWithin2s(t *testing.T) {
	tests := []struct {
		name string
		kill func(s *Supervisor, pid int) error
	}{
		{"Kill by name", func(s *Supervisor, _ int) error { return s.Kill("sleeper") }},
		{"SIGKILL of the leader from outside", func(_ *Supervisor, pid int) error {
			return syscall.Kill(pid, syscall.SIGKILL)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, ctx := supervised(t)
			if err := s.Start(ctx, sleeper("sleeper", t.TempDir())); err != nil {
				t.Fatal(err)
			}
			old := s.Pid("sleeper")

			killed := time.Now()
			if err := tt.kill(s, old); err != nil {
				t.Fatal(err)
			}
			for s.Pid("sleeper") == old || s.Pid("sleeper") == 0 {
				if time.Since(killed) > 2*time.Second {
					t.Fatalf("not restarted within 2s")
				}
				time.Sleep(10 * time.Millisecond)
			}
			if err := s.WaitReady(ctx, "sleeper"); err != nil {
				t.Fatal(err)
			}
			if d := time.Since(killed); d > 2*time.Second {
				t.Fatalf("restarted and ready after %v, want <= 2s", d)
			}
			if got := s.Starts("sleeper"); got != 2 {
				t.Errorf("starts = %d, want 2", got)
			}
			// The old instance's forked child went with it.
			waitGone(t, old, 2*time.Second)
		})
	}
}

func TestSupervisorStopLeavesNoProcesses(t *testing.T) {
	dir := t.TempDir()
	s := NewSupervisor(quietLog())
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.Start(ctx, sleeper("a", dir), sleeper("b", dir)); err != nil {
		t.Fatal(err)
	}
	// A process that ignores SIGTERM must still go: after the grace period
	// its group is killed.
	stubborn := Component{
		Name: "stubborn",
		Command: func() (*exec.Cmd, error) {
			return exec.Command("sh", "-c", "trap '' TERM; sleep 300 & wait"), nil
		},
		StopGrace: 300 * time.Millisecond,
	}
	if err := s.Start(ctx, stubborn); err != nil {
		t.Fatal(err)
	}
	var groups []int
	for _, n := range []string{"a", "b", "stubborn"} {
		groups = append(groups, s.Pid(n))
	}
	start := time.Now()
	s.Stop()
	t.Logf("stopped in %v", time.Since(start))
	for _, g := range groups {
		if servers.GroupAlive(g) {
			t.Errorf("process group %d still alive after Stop", g)
		}
	}
	if err := s.Kill("a"); err == nil {
		t.Error("Kill after Stop: want an error, the process is gone")
	}
}

func TestSupervisorGivesUpOnComponentThatNeverGetsReady(t *testing.T) {
	s, ctx := supervised(t)
	broken := Component{
		Name:    "broken",
		Command: func() (*exec.Cmd, error) { return exec.Command("sh", "-c", "exit 3"), nil },
		Ready: func(ctx context.Context) error {
			<-ctx.Done()
			return ctx.Err()
		},
	}
	err := s.Start(ctx, broken)
	if err == nil || errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Start = %v, want the supervisor to give up before the deadline", err)
	}
	if got := s.Starts("broken"); got != 3 {
		t.Errorf("starts = %d, want 3", got)
	}
}

func TestSupervisorBacksOffCrashLoop(t *testing.T) {
	s, ctx := supervised(t)
	// Ready as soon as it starts, then dies: restarts are spaced 0.2, 0.4, 0.8, 1.6 s.
	crasher := Component{
		Name:    "crasher",
		Command: func() (*exec.Cmd, error) { return exec.Command("true"), nil },
	}
	if err := s.Start(ctx, crasher); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Second)
	if got := s.Starts("crasher"); got < 3 || got > 5 {
		t.Errorf("starts in 2s = %d, want 3..5 (backoff 0.2, 0.4, 0.8 s)", got)
	}
}

func TestSupervisorUnknownComponent(t *testing.T) {
	s := NewSupervisor(quietLog())
	defer s.Stop()
	if err := s.Kill("nope"); !errors.Is(err, ErrUnknownComponent) {
		t.Errorf("Kill = %v, want ErrUnknownComponent", err)
	}
	if err := s.WaitReady(context.Background(), "nope"); !errors.Is(err, ErrUnknownComponent) {
		t.Errorf("WaitReady = %v, want ErrUnknownComponent", err)
	}
}
