package function

import (
	"context"
	"net/http"

	"github.com/wdm-knative/webshop/functions/deadletter"
	"github.com/wdm-knative/webshop/functions/order"
	"github.com/wdm-knative/webshop/functions/payment"
	"github.com/wdm-knative/webshop/functions/stock"
	"github.com/wdm-knative/webshop/internal/eventhttp"
	"github.com/wdm-knative/webshop/internal/inspect"
	"github.com/wdm-knative/webshop/internal/metrics"
	"github.com/wdm-knative/webshop/internal/operation"
	"github.com/wdm-knative/webshop/saga"
)

// eventHandlers returns the CloudEvent handler of each event operation of
// w.ops, keyed by operation name; Start mounts each at the operation's
// EventPath. The handlers have the Knative func CloudEvent signature;
// eventhttp serves them the way the broker's dispatcher expects (binary
// mode, reply in the response, 5xx to retry, 400 to refuse for good).
func eventHandlers(_ context.Context, w *wiring) (map[string]http.Handler, error) {
	handlers := map[string]eventhttp.Handler{}
	add := func(ops map[string]eventhttp.Handler) {
		for name, h := range ops {
			handlers[name] = h
		}
	}
	if p := w.pool(operation.Stock); p != nil {
		add(stock.NewEvents(stock.NewStore(p), w.log).Operations())
	}
	if p := w.pool(operation.Payment); p != nil {
		add(payment.NewEvents(payment.NewStore(p), w.log).Operations())
	}
	if p := w.pool(operation.Saga); p != nil {
		opts := saga.Options{StallAfter: w.cfg.SagaStallAfter, Deadline: w.cfg.SagaDeadline}
		// Only where sagas are decided: an order or saga-sweep process has
		// the saga's database too but decides none, and should not export
		// saga series that stay at zero.
		if selected(w.ops, "saga-step") {
			opts.Metrics = metrics.NewSaga(w.registry)
		}
		add(saga.NewEvents(saga.NewStore(p), w.sink(), opts, w.log).Operations())
		if selected(w.ops, "saga-sweep") {
			// Where the sweep runs: the sagas it re-drives in vain are the stuck ones.
			metrics.NewStuckSagas(w.registry, w.cfg.SagaStallAfter, func(ctx context.Context) (int, error) {
				return inspect.CountStuck(ctx, p, w.cfg.SagaStallAfter)
			})
		}
	}
	if p := w.pool(operation.DeadLetter); p != nil && selected(w.ops, "dead-letter") {
		store := deadletter.NewStore(p)
		add(deadletter.NewEvents(store, w.cfg.DeadLetterRetention, metrics.NewDeadLetters(w.registry), w.log).Operations())
	}
	out := map[string]http.Handler{}
	for _, op := range w.ops {
		if h, ok := handlers[op.Name]; ok && op.Event() {
			out[op.Name] = eventhttp.New(op.Name, h, w.log)
			if op.Name == "dead-letter" {
				out[op.Name] = deadletter.WithTrigger(out[op.Name])
			}
		}
	}
	return out, nil
}

// checkoutHandler returns the handler of POST /orders/checkout/{order_id}.
// It starts the process's one saga outcome listener, stopped with the
// function.
func checkoutHandler(ctx context.Context, w *wiring) (http.Handler, error) {
	sagas := saga.NewStore(w.pool(operation.Order))
	outcomes := saga.NewOutcomes(w.cfg.OrderDSN, sagas, w.log)
	listenCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	go func() {
		defer close(done)
		outcomes.Run(listenCtx)
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
	return order.NewCheckout(sagas, outcomes, w.sink(), w.cfg.CheckoutTimeout, w.log), nil
}

// sink sends events to the broker's ingress (K_SINK).
func (w *wiring) sink() eventhttp.Sender {
	return eventhttp.Sender{URL: w.cfg.Sink, Client: w.client}
}
