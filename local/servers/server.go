package servers

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"time"
)

// Server is a started server process that tests can kill and start again.
// (The local stack's supervisor restarts processes by itself; tests want the
// kill and the restart under their own control.)
type Server struct {
	command func() (*exec.Cmd, error)
	ready   func(context.Context) error
	cmd     *exec.Cmd
	exited  chan struct{}
}

// StartServer starts the process command builds and waits for ready.
func StartServer(ctx context.Context, command func() (*exec.Cmd, error), ready func(context.Context) error) (*Server, error) {
	s := &Server{command: command, ready: ready}
	return s, s.Start(ctx)
}

// Start starts the process (again) and waits until it is ready.
func (s *Server) Start(ctx context.Context) error {
	cmd, err := s.command()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", cmd.Path, err)
	}
	// The child holds its own copy of a log file; ours would leak one file
	// per restart.
	if f, ok := cmd.Stdout.(*os.File); ok && f != os.Stdout && f != os.Stderr {
		f.Close()
	}
	s.cmd, s.exited = cmd, make(chan struct{})
	go func(c *exec.Cmd, done chan struct{}) { _ = c.Wait(); close(done) }(cmd, s.exited)
	if err := s.ready(ctx); err != nil {
		s.Kill()
		return err
	}
	return nil
}

// Kill ends the process group with SIGKILL, as a crash would, and waits.
func (s *Server) Kill() {
	if s.cmd == nil {
		return
	}
	KillGroup(s.cmd, syscall.SIGKILL)
	<-s.exited
	WaitGroupGone(s.cmd.Process.Pid)
	s.cmd = nil
}

// Stop asks the process to shut down and kills it after a grace period.
func (s *Server) Stop() error {
	if s.cmd == nil {
		return errors.New("not running")
	}
	KillGroup(s.cmd, syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(15 * time.Second):
		KillGroup(s.cmd, syscall.SIGKILL)
		<-s.exited
	}
	WaitGroupGone(s.cmd.Process.Pid)
	s.cmd = nil
	return nil
}
