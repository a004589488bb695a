package stack

import (
	"time"

	"github.com/wdm-knative/webshop/local/procsched"
)

// Values of Options.Sched.
const (
	SchedTuned   = "tuned"
	SchedDefault = "default"
)

// How the tuned stack's processes are scheduled. On two cores shared by six
// Go processes, Postgres and RabbitMQ, a checkout is a relay of wake-ups
// (gateway, order, broker, RabbitMQ, stock, saga, payment, a Postgres
// backend per statement), each wake-up is a context switch, and in this VM
// the switches cost more than the work between them (docs/performance.md):
//   - Timer slack: the Go runtime's sysmon thread polls every 20 µs while its
//     process is busy, one wake-up per poll; with slack its sleeps coalesce
//     with other wake-ups. It delays the process's timers by at most the
//     slack, and none of the shop's timers needs that precision (the
//     shortest, a retry pause, is a millisecond). Postgres and RabbitMQ sleep
//     on timers less (commit_delay, Erlang's timer wheel), so less slack.
//   - SCHED_BATCH: a process that wakes does not preempt the one running (the
//     sender of the request it wakes for, usually), which finishes its work
//     and blocks first: one switch instead of two, no latency added beyond
//     what the sender had left to do.
const (
	goTimerSlack     = 5 * time.Millisecond
	serverTimerSlack = 1 * time.Millisecond
)

// sched returns the scheduling settings of a process whose timers may be
// late by slack, or none when the stack runs untuned.
func (s *Stack) sched(slack time.Duration) procsched.Settings {
	if s.opts.Sched != SchedTuned {
		return procsched.Settings{}
	}
	return procsched.Settings{TimerSlack: slack, Batch: true}
}
