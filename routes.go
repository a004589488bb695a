package function

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"net/http"

	"github.com/wdm-knative/webshop/functions/deadletter"
	"github.com/wdm-knative/webshop/functions/order"
	"github.com/wdm-knative/webshop/functions/payment"
	"github.com/wdm-knative/webshop/functions/stock"
	"github.com/wdm-knative/webshop/internal/api"
	"github.com/wdm-knative/webshop/internal/eventhttp"
	"github.com/wdm-knative/webshop/internal/inspect"
	"github.com/wdm-knative/webshop/internal/metrics"
	"github.com/wdm-knative/webshop/internal/operation"
	"github.com/wdm-knative/webshop/saga"
)

// route mounts every selected operation: HTTP routes from the domain
// packages, the checkout, and the event operations (eventHandlers), each
// counted and timed under its operation name; and GET /metrics, on the
// port Knative sends requests to and Prometheus scrapes.
func route(ctx context.Context, w *wiring) (*api.Router, error) {
	handlers := map[string]http.Handler{}
	for _, d := range w.participants() {
		maps.Copy(handlers, d.Operations())
	}
	if p := w.pool(operation.Order); p != nil {
		var (
			prices order.Prices
			users  order.Users
		)
		if w.cfg.StockURL != "" {
			prices = order.NewStockClient(w.cfg.StockURL, w.client)
		}
		if w.cfg.PaymentURL != "" {
			users = order.NewKnownUsers(order.NewPaymentClient(w.cfg.PaymentURL, w.client), knownUsersLimit)
		}
		maps.Copy(handlers, order.NewHandlers(p, prices, users, w.log).Operations())
	}
	if selected(w.ops, operation.OrderCheckout) {
		handlers[operation.OrderCheckout] = checkoutHandler(ctx, w)
	}

	rt := api.NewRouter()
	if err := rt.Mount(w.ops, instrument(w, handlers)); err != nil {
		return nil, err
	}
	if err := mountEvents(rt, w.ops, instrument(w, eventHandlers(ctx, w))); err != nil {
		return nil, err
	}
	rt.Handle("GET /metrics", metrics.Handler(w.registry))
	return rt, nil
}

// participant is the handlers of a domain that takes part in the saga (stock,
// payment): HTTP operations, and the saga's steps as event operations.
type participant interface {
	Operations() map[string]http.Handler
	EventOperations() map[string]eventhttp.Handler
}

// participants are the handlers of stock and payment, each where this
// process has its database; route and eventHandlers take their operations.
func (w *wiring) participants() []participant {
	var out []participant
	if p := w.pool(operation.Stock); p != nil {
		out = append(out, stock.NewHandlers(p, w.log))
	}
	if p := w.pool(operation.Payment); p != nil {
		out = append(out, payment.NewHandlers(p, w.log))
	}
	return out
}

// knownUsersLimit bounds the users order-create remembers (about 100 bytes
// each).
const knownUsersLimit = 1 << 20

// instrument wraps the handler of each selected operation in handlers with
// its request metrics. Only selected ones: the domain packages return
// handlers for all their operations, and wrapping one exports its series.
func instrument(w *wiring, handlers map[string]http.Handler) map[string]http.Handler {
	for _, op := range w.ops {
		if h, ok := handlers[op.Name]; ok {
			handlers[op.Name] = w.requests.Wrap(op.Name, h)
		}
	}
	return handlers
}

// mountEvents serves each selected event operation at its EventPath (the
// Trigger's subscriber uri). A selected event operation without a handler
// fails: a Service that silently 404s every delivery would dead-letter them.
func mountEvents(rt *api.Router, ops []operation.Operation, handlers map[string]http.Handler) error {
	for _, op := range ops {
		if !op.Event() {
			continue
		}
		h, ok := handlers[op.Name]
		if !ok {
			return fmt.Errorf("event operation %s has no handler (wired in eventHandlers, routes.go)", op.Name)
		}
		rt.Handle("POST "+op.EventPath, h)
	}
	return nil
}

// eventHandlers returns the CloudEvent handler of each event operation of
// w.ops, keyed by operation name; route mounts each at the operation's
// EventPath. The handlers have the Knative func CloudEvent signature;
// eventhttp serves them the way the broker's dispatcher expects (binary
// mode, reply in the response, 5xx to retry, 400 to refuse for good).
func eventHandlers(ctx context.Context, w *wiring) map[string]http.Handler {
	handlers := map[string]eventhttp.Handler{}
	for _, d := range w.participants() {
		maps.Copy(handlers, d.EventOperations())
	}
	if p := w.pool(operation.Saga); p != nil {
		opts := w.cfg.sagaOptions()
		// Only where sagas are decided: an order or saga-sweep process has
		// the saga's database too but decides none, and should not export
		// saga series that stay at zero.
		if selected(w.ops, operation.SagaStep) {
			opts.Metrics = metrics.NewSaga(w.registry)
		}
		events := saga.NewEvents(saga.NewStore(p), w.sink(), opts, w.log)
		maps.Copy(handlers, events.Operations())
		if selected(w.ops, operation.SagaSweep) {
			w.background(ctx, events.RunSweeps)
			// Where the sweep runs: the sagas it re-drives in vain are the stuck ones.
			stallAfter := cmp.Or(opts.StallAfter, saga.DefaultOptions.StallAfter)
			metrics.NewStuckSagas(w.registry, stallAfter, func(ctx context.Context) (int, error) {
				return inspect.CountStuck(ctx, p, stallAfter)
			})
		}
	}
	if p := w.pool(operation.DeadLetters); p != nil && selected(w.ops, operation.DeadLetter) {
		store := deadletter.NewStore(p)
		maps.Copy(handlers, deadletter.NewEvents(store, w.cfg.DeadLetterRetention, metrics.NewDeadLetters(w.registry), w.log).Operations())
	}
	out := map[string]http.Handler{}
	for _, op := range w.ops {
		h, ok := handlers[op.Name]
		if !ok || !op.Event() {
			continue
		}
		out[op.Name] = eventhttp.New(op.Name, h, w.log)
		if op.DeadLetterSink {
			out[op.Name] = deadletter.WithTrigger(out[op.Name])
		}
	}
	return out
}

// checkoutHandler returns the handler of POST /orders/checkout/{order_id},
// with the process's one saga outcome listener running beside it.
func checkoutHandler(ctx context.Context, w *wiring) http.Handler {
	sagas := saga.NewStore(w.pool(operation.Order))
	outcomes := saga.NewOutcomes(w.cfg.OrderDSN, sagas, w.log)
	w.background(ctx, outcomes.Run)
	c := saga.NewCheckout(sagas, outcomes, w.sink(), w.cfg.sagaOptions(), w.log)
	w.onStop = append(w.onStop, c.Wait)
	return c
}

// background runs fn until the function stops.
func (w *wiring) background(ctx context.Context, fn func(context.Context)) {
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn(runCtx)
	}()
	w.onStop = append(w.onStop, func(ctx context.Context) error {
		cancel()
		select {
		case <-done:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	})
}

// sink sends events to the broker's ingress (K_SINK).
func (w *wiring) sink() eventhttp.Sender {
	return eventhttp.Sender{URL: w.cfg.Sink, Client: w.sendClient}
}
