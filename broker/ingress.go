package broker

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/cloudevents/sdk-go/v2/binding"
	"github.com/cloudevents/sdk-go/v2/event"
	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"

	"github.com/wdm-knative/webshop/internal/eventhttp"
	"github.com/wdm-knative/webshop/internal/metrics"
)

const (
	// maxEventBytes bounds one incoming event; larger bodies get 413.
	maxEventBytes = 4 << 20
	// publishTimeout bounds the wait for a connection and a confirm: past it
	// the sender is better served by a 503 and its own retry.
	publishTimeout = 10 * time.Second
)

// Handler serves the ingress (POST / and POST /{namespace}/{broker}), the
// health endpoints and the broker's metrics (GET /metrics).
func (b *Broker) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /{$}", b.ingress)
	mux.HandleFunc("POST /{namespace}/{broker}", func(w http.ResponseWriter, r *http.Request) {
		// The namespace is not checked: locally there is only one.
		if r.PathValue("broker") != b.name {
			http.Error(w, "unknown broker", http.StatusNotFound)
			return
		}
		b.ingress(w, r)
	})
	mux.HandleFunc("GET /health", b.health)
	mux.HandleFunc("GET /health/ready", b.health)
	mux.HandleFunc("GET /health/live", func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusOK)
	})
	mux.Handle("GET /metrics", metrics.Handler(b.registry))
	return mux
}

// ingress validates a CloudEvent and answers 202 once RabbitMQ has
// confirmed it, so a 202 means the event survives a RabbitMQ crash; or at
// once, for an event no Trigger takes (topology.routable).
func (b *Broker) ingress(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxEventBytes)
	ev, err := readEvent(r)
	if errors.Is(err, errNoEvent) {
		http.Error(w, "not a CloudEvent (binary or structured mode expected)", http.StatusBadRequest)
		return
	}
	if err == nil {
		err = ev.Validate()
	}
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			http.Error(w, "event too large", http.StatusRequestEntityTooLarge)
			return
		}
		http.Error(w, "invalid CloudEvent: "+err.Error(), http.StatusBadRequest)
		return
	}
	pub, err := toPublishing(ev)
	if err != nil {
		http.Error(w, "invalid CloudEvent: "+err.Error(), http.StatusBadRequest)
		return
	}
	if !b.topo.routable(pub.Headers) {
		// Accepted and dropped, as the exchange would drop it.
		b.metrics.IngressUnrouted()
		w.WriteHeader(http.StatusAccepted)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), publishTimeout)
	defer cancel()
	if err := b.pub.publish(ctx, b.topo.exchange, pub); err != nil {
		b.log.Warn("ingress publish failed", "event_id", ev.ID(), "event_type", ev.Type(), "err", err)
		status := http.StatusInternalServerError
		if errors.Is(err, ErrUnavailable) {
			status = http.StatusServiceUnavailable
		}
		http.Error(w, "event not stored: "+err.Error(), status)
		return
	}
	b.metrics.IngressPublished()
	w.WriteHeader(http.StatusAccepted)
}

// errNoEvent is a request in neither binary nor structured mode.
var errNoEvent = errors.New("no CloudEvent in the request")

// readEvent reads the request's event: binary mode on the fast path (what
// the functions send), anything else through the SDK. This is the one place
// an event entering the broker is decoded; the caller validates it.
func readEvent(r *http.Request) (*event.Event, error) {
	ev, err := eventhttp.ReadBinary(r.Header, r.Body)
	if err == nil {
		return &ev, nil
	}
	if !errors.Is(err, eventhttp.ErrNotBinary) {
		return nil, err
	}
	msg := cehttp.NewMessageFromHttpRequest(r)
	defer msg.Finish(nil)
	if enc := msg.ReadEncoding(); enc == binding.EncodingUnknown || enc == binding.EncodingBatch {
		return nil, errNoEvent
	}
	return binding.ToEvent(r.Context(), msg)
}

// health answers 200 while both RabbitMQ connections are up, 503 otherwise.
func (b *Broker) health(w http.ResponseWriter, _ *http.Request) {
	if !b.Ready() {
		http.Error(w, "rabbitmq not connected", http.StatusServiceUnavailable)
		return
	}
	w.WriteHeader(http.StatusOK)
}
