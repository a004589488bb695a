// Package saga is the checkout saga's orchestrator: a pure state machine
// (this file), its Postgres store in the order database, the CloudEvent
// handler that feeds it the participants' replies (saga-step), the recovery
// sweep (saga-sweep), and the outcome listener the checkout waits on.
package saga

import "fmt"

// Status is where a saga stands. Paid and Failed are final.
type Status string

// The statuses. A saga starts Pending (stock and payment asked); one
// rejection (or the deadline) makes it Compensating (both asked to give
// back); it is Failed only once both confirmed the give-back, so a caller
// told "failed" can rely on nothing being taken.
const (
	Pending      Status = "pending"
	Compensating Status = "compensating"
	Paid         Status = "paid"
	Failed       Status = "failed"
)

// Final reports whether no input changes the saga any more.
func (s Status) Final() bool { return s == Paid || s == Failed }

// Step is what the saga knows of one participant (stock or payment).
type Step string

// The steps. Returned is the participant confirming the compensation: it
// gave back what it had taken, or took nothing and never will (tombstone).
const (
	Waiting  Step = "waiting"
	Taken    Step = "taken"
	Rejected Step = "rejected"
	Returned Step = "returned"
)

// State is the saga's state as the machine sees it.
type State struct {
	Status  Status
	Stock   Step
	Payment Step
}

// Start is the state of a new saga.
var Start = State{Status: Pending, Stock: Waiting, Payment: Waiting}

func (s State) String() string {
	return fmt.Sprintf("%s(stock=%s,payment=%s)", s.Status, s.Stock, s.Payment)
}

// Input is what happens to a saga: one of the six reply types, or the
// recovery sweep's deadline passing.
type Input int

// The inputs.
const (
	StockReserved Input = iota
	StockRejected
	PaymentDebited
	PaymentRejected
	StockReleased
	PaymentRefunded
	Deadline
)

// Inputs lists every input, for exhaustive tests.
var Inputs = []Input{StockReserved, StockRejected, PaymentDebited, PaymentRejected, StockReleased, PaymentRefunded, Deadline}

func (in Input) String() string {
	switch in {
	case StockReserved:
		return "StockReserved"
	case StockRejected:
		return "StockRejected"
	case PaymentDebited:
		return "PaymentDebited"
	case PaymentRejected:
		return "PaymentRejected"
	case StockReleased:
		return "StockReleased"
	case PaymentRefunded:
		return "PaymentRefunded"
	case Deadline:
		return "Deadline"
	}
	return fmt.Sprintf("Input(%d)", int(in))
}

// Emit is the event a decision sends.
type Emit int

// The events a saga sends: nothing, checkout.requested (only the checkout
// and the sweep send it), checkout.compensate, or an outcome event
// (checkout.paid, checkout.failed) for subscribers outside the shop.
const (
	EmitNone Emit = iota
	EmitRequested
	EmitCompensate
	EmitPaid
	EmitFailed
)

func (e Emit) String() string {
	switch e {
	case EmitRequested:
		return "requested"
	case EmitCompensate:
		return "compensate"
	case EmitPaid:
		return "paid"
	case EmitFailed:
		return "failed"
	}
	return "none"
}

// OrderChange is what a decision does to the order's status.
type OrderChange int

// The order changes: a paid saga marks the order paid; a failed one opens it
// again for edits and a new checkout.
const (
	OrderUnchanged OrderChange = iota
	OrderPaid
	OrderOpen
)

// Decision is the machine's answer to an input.
type Decision struct {
	Next  State
	Emit  Emit
	Order OrderChange
}

// Transition is the transition function. It is total: any input in any state has
// an answer, because the broker delivers at least once and in no order.
//
//   - Final states absorb everything (duplicates, late replies), but answer
//     every input with the saga's outcome event again: a broker that lost the
//     deciding step's reply before publishing it redelivers that step, and
//     the outcome must still go out (at least once, never a different one).
//   - The transition into Paid or Failed emits the outcome event.
//   - A participant's first reply to the forward step is recorded; a
//     contradicting later one is ignored (ledgers make it impossible anyway).
//   - Returned (compensation confirmed) is recorded only while compensating
//     and is never overwritten: after it, the participant refuses to take.
//   - Pending: any rejection, or the deadline, turns to Compensating and emits
//     checkout.compensate; both steps Taken means Paid.
//   - Compensating: a redelivered rejection (one already recorded) emits
//     checkout.compensate again, so a broker that lost the first reply before
//     publishing it gets it again on redelivery; a first rejection from the
//     other participant emits nothing (the compensation is already on its
//     way to both). Both steps Returned means Failed.
func Transition(s State, in Input) Decision {
	d := Decision{Next: s}
	if s.Status.Final() {
		d.Emit = outcome(s.Status)
		return d
	}
	n := &d.Next
	switch in {
	case StockReserved:
		n.Stock = forward(n.Stock, Taken)
	case StockRejected:
		n.Stock = forward(n.Stock, Rejected)
	case PaymentDebited:
		n.Payment = forward(n.Payment, Taken)
	case PaymentRejected:
		n.Payment = forward(n.Payment, Rejected)
	case StockReleased:
		if s.Status == Compensating {
			n.Stock = Returned
		}
	case PaymentRefunded:
		if s.Status == Compensating {
			n.Payment = Returned
		}
	}

	rejection := in == StockRejected || in == PaymentRejected
	redelivered := in == StockRejected && s.Stock == Rejected || in == PaymentRejected && s.Payment == Rejected
	switch s.Status {
	case Pending:
		switch {
		case rejection || in == Deadline:
			n.Status = Compensating
			d.Emit = EmitCompensate
		case n.Stock == Taken && n.Payment == Taken:
			n.Status = Paid
			d.Emit = EmitPaid
			d.Order = OrderPaid
		}
	case Compensating:
		switch {
		case n.Stock == Returned && n.Payment == Returned:
			n.Status = Failed
			d.Emit = EmitFailed
			d.Order = OrderOpen
		case redelivered:
			d.Emit = EmitCompensate
		}
	}
	return d
}

// outcome is the event announcing a final status.
func outcome(s Status) Emit {
	if s == Paid {
		return EmitPaid
	}
	return EmitFailed
}

// forward records a forward-step reply unless one is already known.
func forward(cur, got Step) Step {
	if cur == Waiting {
		return got
	}
	return cur
}

// Awaiting is what a stalled saga waits for, and so what the recovery sweep
// re-sends: the request while pending, the compensation while compensating.
func Awaiting(s State) Emit {
	switch s.Status {
	case Pending:
		return EmitRequested
	case Compensating:
		return EmitCompensate
	}
	return EmitNone
}
