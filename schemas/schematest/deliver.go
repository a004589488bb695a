package schematest

import (
	"context"
	"sync"
	"testing"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/wdm-knative/webshop/internal/eventhttp"
)

// Delivery is one delivery of an input event to a handler.
type Delivery struct {
	Handler eventhttp.Handler
	In      event.Event
}

// DeliverAtOnce delivers every d at the same time, as a broker with parallel
// workers and at-least-once delivery may, and fails the test unless each
// handler succeeded with a reply that passes Check, and all replies to the
// same input event are identical (redeliveries are answered alike).
func DeliverAtOnce(t *testing.T, ds ...Delivery) {
	t.Helper()
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		replies = map[string]map[string]bool{} // input id -> distinct replies
	)
	for _, d := range ds {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out, err := d.Handler(context.Background(), d.In)
			if err != nil {
				t.Errorf("%s %s: %v", d.In.Type(), d.In.ID(), err)
				return
			}
			if out == nil {
				t.Errorf("%s %s: no reply", d.In.Type(), d.In.ID())
				return
			}
			if err := Validate(*out); err != nil {
				t.Errorf("reply to %s: %v", d.In.ID(), err)
			}
			mu.Lock()
			defer mu.Unlock()
			if replies[d.In.ID()] == nil {
				replies[d.In.ID()] = map[string]bool{}
			}
			replies[d.In.ID()][out.ID()+" "+out.Type()+" "+string(out.Data())] = true
		}()
	}
	wg.Wait()
	for id, distinct := range replies {
		if len(distinct) != 1 {
			t.Errorf("%d different replies to %s: %v", len(distinct), id, distinct)
		}
	}
}

// StepRace is one way an at-least-once, unordered broker can deliver a saga
// participant's forward step ("step") and its compensation ("undo").
type StepRace struct {
	Name     string
	Before   []string // delivered one after another first
	Together []string // then delivered all at once
	Taken    bool     // whether the step's effect stands at the end
}

// StepRaces are the races every participant's ledger must survive.
var StepRaces = []StepRace{
	{"the same step delivered at once", nil, []string{"step", "step", "step", "step", "step", "step"}, true},
	{"the same compensation delivered at once", []string{"step"}, []string{"undo", "undo", "undo", "undo", "undo"}, false},
	{"compensation racing its step", nil, []string{"step", "undo", "step", "undo"}, false},
	{"compensation between two deliveries of its step", nil, []string{"step", "undo", "step"}, false},
	{"late steps after a tombstone", []string{"undo"}, []string{"step", "step", "step", "step"}, false},
}

// RunStepRaces runs every StepRace, 30 rounds each. round gives the
// round's deliveries of the step and its compensation, on fresh rows, and
// taken, which reads what the step has taken so far (once when it stands):
// it must be exactly once or nothing, and all replies to one input the same.
func RunStepRaces(t *testing.T, round func(t *testing.T, i int) (step, undo Delivery, taken func() int64, once int64)) {
	for _, c := range StepRaces {
		t.Run(c.Name, func(t *testing.T) {
			t.Parallel()
			for i := range 30 {
				step, undo, taken, once := round(t, i)
				delivery := map[string]Delivery{"step": step, "undo": undo}
				for _, name := range c.Before {
					d := delivery[name]
					Reply(t, d.Handler, d.In)
				}
				var together []Delivery
				for _, name := range c.Together {
					together = append(together, delivery[name])
				}
				DeliverAtOnce(t, together...)
				want := int64(0)
				if c.Taken {
					want = once
				}
				if got := taken(); got != want {
					t.Fatalf("round %d: %d taken, want %d", i, got, want)
				}
			}
		})
	}
}
