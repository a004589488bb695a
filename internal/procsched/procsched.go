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

// Start starts cmd with settings s.
func Start(cmd *exec.Cmd, s Settings) error {
	if s.zero() {
		return cmd.Start()
	}
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		err := apply(s)
		if err == nil {
			err = cmd.Start()
		} else {
			err = fmt.Errorf("scheduling settings: %w", err)
		}
		if apply(Settings{}) != nil {
			// The thread cannot go back to the pool as it is, and it may
			// not exit either (the child's Pdeathsig): it stays parked.
			done <- err
			select {}
		}
		runtime.UnlockOSThread()
		done <- err
	}()
	return <-done
}

// apply sets s on the calling thread; the zero Settings restore the
// defaults (slack 0 is the thread's default slack).
func apply(s Settings) error {
	if err := unix.Prctl(unix.PR_SET_TIMERSLACK, uintptr(s.TimerSlack.Nanoseconds()), 0, 0, 0); err != nil {
		return err
	}
	policy := uint32(unix.SCHED_NORMAL)
	if s.Batch {
		policy = unix.SCHED_BATCH
	}
	// pid 0: the calling thread. Switching between SCHED_NORMAL and
	// SCHED_BATCH at the same nice value needs no privilege.
	return unix.SchedSetAttr(0, &unix.SchedAttr{Policy: policy}, 0)
}
