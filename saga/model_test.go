package saga

import (
	"fmt"
	"testing"
)

// This file model-checks the saga together with models of the two
// participants' ledgers and an at-least-once, unordered broker: every
// reachable state of that world is visited, and in each one the invariants
// the checkout promises must hold.

// ledger is a participant's ledger row for the saga.
type ledger int

const (
	none      ledger = iota
	taken            // reserved / debited
	refused          // rejected: nothing taken
	given            // released / refunded after taking
	tombstone        // compensation came first: nothing taken, never will be
)

// msg is a message the broker may deliver.
type msg int

const (
	reqStock msg = iota // checkout.requested -> stock-reserve
	reqPay              // checkout.requested -> payment-debit
	compStock
	compPay
	replyStockReserved
	replyStockRejected
	replyPaymentDebited
	replyPaymentRejected
	replyStockReleased
	replyPaymentRefunded
	nMsgs
)

// delivery is where a message stands: unsent, must be delivered, delivered
// (a duplicate may still come), or spent (no more duplicates).
type delivery int8

const (
	unsent delivery = iota
	due
	delivered
	spent
)

type world struct {
	saga      State
	stock     ledger
	pay       ledger
	msgs      [nMsgs]delivery
	deadline  bool // the sweep's deadline may fire once
	resent    bool // the sweep may re-send once
	stockOK   bool // stock would accept the order
	paymentOK bool
	announced Emit // the first outcome event the saga sent
	changed   bool // it later sent a different outcome event
}

func (w *world) send(m msg) { w.msgs[m] = due }

func (w *world) apply(in Input) {
	d := Transition(w.saga, in)
	w.saga = d.Next
	if d.Emit == EmitPaid || d.Emit == EmitFailed {
		if w.announced != EmitNone && w.announced != d.Emit {
			w.changed = true
		}
		w.announced = d.Emit
	}
	if d.Emit == EmitCompensate {
		w.send(compStock)
		w.send(compPay)
	}
}

// step runs a participant's forward step on its ledger l: the first
// delivery takes or refuses (by ok), and every delivery replies from the
// ledger, as the SQL step does.
func (w *world) step(l *ledger, ok bool, accepted, rejected msg) {
	if *l == none {
		*l = map[bool]ledger{true: taken, false: refused}[ok]
	}
	if *l == taken || *l == given {
		w.send(accepted)
	} else {
		w.send(rejected)
	}
}

// deliver runs the receiver of m.
func (w *world) deliver(m msg) {
	switch m {
	case reqStock:
		w.step(&w.stock, w.stockOK, replyStockReserved, replyStockRejected)
	case reqPay:
		w.step(&w.pay, w.paymentOK, replyPaymentDebited, replyPaymentRejected)
	case compStock:
		w.stock = compensate(w.stock)
		w.send(replyStockReleased)
	case compPay:
		w.pay = compensate(w.pay)
		w.send(replyPaymentRefunded)
	case replyStockReserved:
		w.apply(StockReserved)
	case replyStockRejected:
		w.apply(StockRejected)
	case replyPaymentDebited:
		w.apply(PaymentDebited)
	case replyPaymentRejected:
		w.apply(PaymentRejected)
	case replyStockReleased:
		w.apply(StockReleased)
	case replyPaymentRefunded:
		w.apply(PaymentRefunded)
	}
}

func compensate(l ledger) ledger {
	switch l {
	case none:
		return tombstone
	case taken:
		return given
	}
	return l
}

// next lists the worlds one action away.
func (w world) next() []world {
	var out []world
	for m := range nMsgs {
		switch w.msgs[m] {
		case due:
			n := w
			n.msgs[m] = delivered
			n.deliver(m)
			out = append(out, n)
		case delivered: // a duplicate
			n := w
			n.msgs[m] = spent
			n.deliver(m)
			out = append(out, n)
		}
	}
	if w.deadline {
		n := w
		n.deadline = false
		n.apply(Deadline)
		out = append(out, n)
	}
	if w.resent {
		n := w
		n.resent = false
		switch Awaiting(n.saga) {
		case EmitRequested:
			n.send(reqStock)
			n.send(reqPay)
		case EmitCompensate:
			n.send(compStock)
			n.send(compPay)
		}
		out = append(out, n)
	}
	return out
}

func (w world) quiet() bool {
	for _, d := range w.msgs {
		if d == due {
			return false
		}
	}
	return true
}

func (w world) String() string {
	return fmt.Sprintf("saga=%v stock=%d pay=%d msgs=%v", w.saga, w.stock, w.pay, w.msgs)
}

func TestModelEveryInterleaving(t *testing.T) {
	cases := []struct {
		name               string
		stockOK, paymentOK bool
		// canPay: some interleaving pays (only when both accept).
		canPay bool
	}{
		{"both accept", true, true, true},
		{"stock short", false, true, false},
		{"payment short", true, false, false},
		{"both short", false, false, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			start := world{saga: Start, deadline: true, resent: true, stockOK: c.stockOK, paymentOK: c.paymentOK}
			start.send(reqStock)
			start.send(reqPay)
			seen := map[world]bool{start: true}
			queue := []world{start}
			outcomes := map[Status]int{}
			for len(queue) > 0 {
				w := queue[0]
				queue = queue[1:]
				checkWorld(t, w)
				if w.quiet() {
					outcomes[w.saga.Status]++
				}
				for _, n := range w.next() {
					if !seen[n] {
						seen[n] = true
						queue = append(queue, n)
					}
				}
			}
			t.Logf("%d reachable states, quiet outcomes %v", len(seen), outcomes)
			if c.canPay != (outcomes[Paid] > 0) {
				t.Errorf("paid outcomes %d, want some=%v", outcomes[Paid], c.canPay)
			}
			if outcomes[Failed] == 0 {
				t.Errorf("no interleaving fails (the deadline always can)")
			}
		})
	}
}

func checkWorld(t *testing.T, w world) {
	t.Helper()
	switch w.saga.Status {
	case Paid:
		// Paid: both took, and neither gives back.
		if w.stock != taken || w.pay != taken {
			t.Fatalf("paid but not everything taken: %v", w)
		}
	case Failed:
		// Failed: nothing held, and nothing can be taken later.
		if w.stock == taken || w.pay == taken || w.stock == none || w.pay == none {
			t.Fatalf("failed while something is or may still be taken: %v", w)
		}
	}
	// A decided saga has announced its outcome, and never another one.
	if w.saga.Status.Final() && w.announced != outcome(w.saga.Status) || w.changed {
		t.Fatalf("outcome event %v (changed: %v) for a %s saga: %v", w.announced, w.changed, w.saga.Status, w)
	}
	// With nothing left to deliver the saga has decided.
	if w.quiet() && !w.saga.Status.Final() {
		t.Fatalf("quiet but undecided: %v", w)
	}
}
