package saga

import (
	"slices"
	"testing"
)

func st(status Status, stock, payment Step) State {
	return State{Status: status, Stock: stock, Payment: payment}
}

// TestApplyTable is the transition table, case by case.
func TestTransitionTable(t *testing.T) {
	cases := []struct {
		name  string
		from  State
		in    Input
		want  State
		emit  Emit
		order OrderChange
	}{
		{"stock first", Start, StockReserved, st(Pending, Taken, Waiting), EmitNone, OrderUnchanged},
		{"payment first", Start, PaymentDebited, st(Pending, Waiting, Taken), EmitNone, OrderUnchanged},
		{"stock completes", st(Pending, Waiting, Taken), StockReserved, st(Paid, Taken, Taken), EmitPaid, OrderPaid},
		{"payment completes", st(Pending, Taken, Waiting), PaymentDebited, st(Paid, Taken, Taken), EmitPaid, OrderPaid},
		{"duplicate reserve while pending", st(Pending, Taken, Waiting), StockReserved, st(Pending, Taken, Waiting), EmitNone, OrderUnchanged},
		{"stock rejects", Start, StockRejected, st(Compensating, Rejected, Waiting), EmitCompensate, OrderUnchanged},
		{"payment rejects after stock taken", st(Pending, Taken, Waiting), PaymentRejected, st(Compensating, Taken, Rejected), EmitCompensate, OrderUnchanged},
		{"deadline while pending", st(Pending, Taken, Waiting), Deadline, st(Compensating, Taken, Waiting), EmitCompensate, OrderUnchanged},
		{"release before compensation is ignored", Start, StockReleased, Start, EmitNone, OrderUnchanged},
		{"late debit while compensating", st(Compensating, Rejected, Waiting), PaymentDebited, st(Compensating, Rejected, Taken), EmitNone, OrderUnchanged},
		{"second participant rejects while compensating", st(Compensating, Rejected, Waiting), PaymentRejected, st(Compensating, Rejected, Rejected), EmitNone, OrderUnchanged},
		{"redelivered rejection re-emits", st(Compensating, Rejected, Waiting), StockRejected, st(Compensating, Rejected, Waiting), EmitCompensate, OrderUnchanged},
		{"deadline while compensating", st(Compensating, Rejected, Waiting), Deadline, st(Compensating, Rejected, Waiting), EmitNone, OrderUnchanged},
		{"stock released", st(Compensating, Rejected, Taken), StockReleased, st(Compensating, Returned, Taken), EmitNone, OrderUnchanged},
		{"payment refunded completes", st(Compensating, Returned, Taken), PaymentRefunded, st(Failed, Returned, Returned), EmitFailed, OrderOpen},
		{"stock released completes", st(Compensating, Taken, Returned), StockReleased, st(Failed, Returned, Returned), EmitFailed, OrderOpen},
		{"late reserve after release is ignored", st(Compensating, Returned, Waiting), StockReserved, st(Compensating, Returned, Waiting), EmitNone, OrderUnchanged},
		{"late rejection after release", st(Compensating, Returned, Waiting), StockRejected, st(Compensating, Returned, Waiting), EmitNone, OrderUnchanged},
		{"contradicting reply is ignored", st(Pending, Taken, Waiting), StockRejected, st(Compensating, Taken, Waiting), EmitCompensate, OrderUnchanged},
		{"paid absorbs a duplicate, re-emits paid", st(Paid, Taken, Taken), StockReserved, st(Paid, Taken, Taken), EmitPaid, OrderUnchanged},
		{"paid absorbs a deadline, re-emits paid", st(Paid, Taken, Taken), Deadline, st(Paid, Taken, Taken), EmitPaid, OrderUnchanged},
		{"failed absorbs a rejection, re-emits failed", st(Failed, Returned, Returned), PaymentRejected, st(Failed, Returned, Returned), EmitFailed, OrderUnchanged},
		{"late release after failed re-emits failed", st(Failed, Returned, Returned), StockReleased, st(Failed, Returned, Returned), EmitFailed, OrderUnchanged},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := Transition(c.from, c.in)
			if d.Next != c.want || d.Emit != c.emit || d.Order != c.order {
				t.Errorf("Transition(%v, %v) = %v emit=%v order=%v; want %v emit=%v order=%v",
					c.from, c.in, d.Next, d.Emit, d.Order, c.want, c.emit, c.order)
			}
		})
	}
}

func TestAwaiting(t *testing.T) {
	cases := []struct {
		name string
		s    State
		want Emit
	}{
		{"pending waits for replies", Start, EmitRequested},
		{"compensating waits for confirmations", st(Compensating, Rejected, Waiting), EmitCompensate},
		{"paid waits for nothing", st(Paid, Taken, Taken), EmitNone},
		{"failed waits for nothing", st(Failed, Returned, Returned), EmitNone},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := Awaiting(c.s); got != c.want {
				t.Errorf("Awaiting(%v) = %v, want %v", c.s, got, c.want)
			}
		})
	}
}

// TestApplyEverySequence feeds every sequence of up to maxLen inputs
// (duplicates, any order, inputs that cannot happen) and checks the
// machine's invariants after each step.
func TestTransitionEverySequence(t *testing.T) {
	const maxLen = 7
	var seqs int
	var walk func(s State, path []Input, compensates int)
	walk = func(s State, path []Input, compensates int) {
		seqs++
		if len(path) == maxLen {
			return
		}
		for _, in := range Inputs {
			d := Transition(s, in)
			p := append(path[:len(path):len(path)], in)
			checkStep(t, p, s, in, d)
			n := compensates
			if d.Emit == EmitCompensate {
				n++
			}
			walk(d.Next, p, n)
		}
	}
	walk(Start, nil, 0)
	if want := 960800; seqs != want { // sum of 7^k, k = 0..7
		t.Errorf("walked %d sequences, want %d", seqs, want)
	}
}

func checkStep(t *testing.T, path []Input, s State, in Input, d Decision) {
	t.Helper()
	n := d.Next
	fail := func(format string, args ...any) {
		t.Helper()
		t.Fatalf("after %v: %v --%v--> %v emit=%v order=%v: "+format,
			append([]any{path, s, in, n, d.Emit, d.Order}, args...)...)
	}
	// Final states absorb everything, re-emitting their outcome.
	if s.Status.Final() && (n != s || d.Order != OrderUnchanged) {
		fail("final state changed")
	}
	// The outcome event goes out on the decision and on every later input,
	// and it is always the saga's own outcome.
	if n.Status.Final() && d.Emit != outcome(n.Status) {
		fail("final state without its outcome event")
	}
	if (d.Emit == EmitPaid || d.Emit == EmitFailed) && (!n.Status.Final() || d.Emit != outcome(n.Status)) {
		fail("outcome event that is not the saga's outcome")
	}
	// Allowed status moves only.
	allowed := map[Status][]Status{
		Pending:      {Pending, Compensating, Paid},
		Compensating: {Compensating, Failed},
		Paid:         {Paid},
		Failed:       {Failed},
	}
	if !slices.Contains(allowed[s.Status], n.Status) {
		fail("status move not allowed")
	}
	// Paid only with both steps taken; failed only with both returned.
	if n.Status == Paid && (n.Stock != Taken || n.Payment != Taken) {
		fail("paid without both steps taken")
	}
	if n.Status == Failed && (n.Stock != Returned || n.Payment != Returned) {
		fail("failed before both compensations confirmed")
	}
	// The order changes exactly when the saga becomes final.
	becamePaid := s.Status != Paid && n.Status == Paid
	becameFailed := s.Status != Failed && n.Status == Failed
	if (d.Order == OrderPaid) != becamePaid || (d.Order == OrderOpen) != becameFailed {
		fail("order change does not match the final transition")
	}
	// Entering compensation always emits it; only compensating sagas emit.
	if s.Status == Pending && n.Status == Compensating && d.Emit != EmitCompensate {
		fail("compensation decided but not emitted")
	}
	if d.Emit == EmitCompensate && n.Status != Compensating {
		fail("compensate emitted outside compensating")
	}
	if d.Emit == EmitRequested {
		fail("a reply never emits checkout.requested")
	}
	// Returned is never overwritten; a forward reply is never undone.
	if s.Stock == Returned && n.Stock != Returned || s.Payment == Returned && n.Payment != Returned {
		fail("returned step overwritten")
	}
	if s.Stock != Waiting && n.Stock == Waiting || s.Payment != Waiting && n.Payment == Waiting {
		fail("step forgotten")
	}
	// Pending never records a compensation confirmation.
	if s.Status == Pending && (n.Stock == Returned || n.Payment == Returned) {
		fail("confirmation recorded before compensation")
	}
}
