// Package procsched starts processes with the scheduling settings the local
// stack wants for them: a timer slack and the SCHED_BATCH policy.
//
// Both are per-thread attributes that a child inherits from the thread that
// forks it and keeps across execve: they are set on the forking thread just
// for the fork and restored after it, so no privilege is needed and no other
// process we start gets them by accident. (The thread may not simply exit
// afterwards: a child's Pdeathsig fires when the thread that forked it ends.)
package procsched

import (
	"fmt"
	"os/exec"
	"runtime"
	"time"

	"golang.org/x/sys/unix"
)

// Settings are what a started process gets; the zero value changes nothing.
type Settings struct {
	// TimerSlack lets the kernel end the process's timed sleeps up to this
	// much late, so that wake-ups coalesce (0: the kernel's default, 50 µs).
	TimerSlack time.Duration
	// Batch runs the process under SCHED_BATCH: it does not preempt the
	// running task when it wakes, it waits for the running task to block or
	// for the next tick.
	Batch bool
}

func (s Settings) zero() bool { return s == Settings{} }

// Start starts cmd with settings s. The process keeps its other
// scheduling attributes (its nice value, say) from ours.
func Start(cmd *exec.Cmd, s Settings) error {
	if s.zero() {
		return cmd.Start()
	}
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		saved, err := current()
		if err != nil {
			runtime.UnlockOSThread()
			done <- fmt.Errorf("scheduling settings: %w", err)
			return
		}
		if err = saved.with(s).set(); err == nil {
			err = cmd.Start()
		} else {
			err = fmt.Errorf("scheduling settings: %w", err)
		}
		restored := saved.set() == nil
		done <- err
		if !restored {
			// The thread cannot go back to the pool as it is, and it may
			// not exit either (the child's Pdeathsig): it stays parked.
			select {}
		}
		runtime.UnlockOSThread()
	}()
	return <-done
}

// threadSched is a thread's timer slack and scheduling attributes.
type threadSched struct {
	slack int
	attr  unix.SchedAttr
}

// current reads the calling thread's.
func current() (threadSched, error) {
	slack, err := unix.PrctlRetInt(unix.PR_GET_TIMERSLACK, 0, 0, 0, 0)
	if err != nil {
		return threadSched{}, err
	}
	attr, err := unix.SchedGetAttr(0, 0) // 0: the calling thread
	if err != nil {
		return threadSched{}, err
	}
	return threadSched{slack: slack, attr: *attr}, nil
}

// with is t changed as s asks, the nice value and the rest left as they are.
func (t threadSched) with(s Settings) threadSched {
	if s.TimerSlack > 0 {
		t.slack = int(s.TimerSlack.Nanoseconds())
	}
	if s.Batch {
		t.attr.Policy = unix.SCHED_BATCH
	}
	return t
}

// set applies t to the calling thread. Switching between SCHED_NORMAL and
// SCHED_BATCH at an unchanged nice value needs no privilege.
func (t threadSched) set() error {
	if err := unix.Prctl(unix.PR_SET_TIMERSLACK, uintptr(t.slack), 0, 0, 0); err != nil {
		return err
	}
	attr := t.attr
	return unix.SchedSetAttr(0, &attr, 0)
}
