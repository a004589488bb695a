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
