// Package eventtest is the one in-memory stand-in for the Knative Broker in
// tests. It routes each event to the operations whose Triggers select its
// type (internal/operation's Consumes), delivers at least once and in no
// order, publishes a delivery's reply before the delivery counts as done,
// and retries a delivery that failed. Options make it worse on purpose:
// duplicates, lost events on the way in, deliveries in goroutines, and
// subscribers reached over HTTP in binary mode as the real broker does.
package eventtest

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"

	"github.com/wdm-knative/webshop/internal/eventhttp"
	"github.com/wdm-knative/webshop/internal/operation"
	"github.com/wdm-knative/webshop/schemas"
	"github.com/wdm-knative/webshop/schemas/schematest"
)

// Option makes the broker less reliable, or changes how it delivers.
type Option func(*Broker)

// Duplicates delivers each delivery again with probability rate: once more
// in Async mode (rate 1 delivers everything exactly twice), while queued it
// stays in the queue with that probability each time it is picked.
func Duplicates(rate float64) Option { return func(b *Broker) { b.dupRate = rate } }

// Drops loses events handed to Send (the ingress) with probability rate, as
// a K_SINK failure would; replies published by the broker are never lost.
func Drops(rate float64) Option { return func(b *Broker) { b.dropRate = rate } }

// Async delivers every event at once in a goroutine of its own; without it,
// events queue until Drain.
func Async() Option { return func(b *Broker) { b.async = true } }

// Seed fixes the random choices (which delivery next, duplicates, drops).
func Seed(seed uint64) Option { return func(b *Broker) { b.rng = rand.New(rand.NewPCG(seed, 42)) } }

// maxAttempts bounds the retries of one failed delivery.
const maxAttempts = 100

// Broker is the test broker. Its Send is a K_SINK for the code under test.
type Broker struct {
	t        *testing.T
	dupRate  float64
	dropRate float64
	async    bool
	subs     map[string][]subscriber // event type -> subscribers
	down     atomic.Bool

	mu      sync.Mutex
	rng     *rand.Rand
	queue   []delivery
	handled int

	inFlight sync.WaitGroup
	ingress  *httptest.Server
}

type subscriber struct {
	name string
	h    eventhttp.Handler
}

type delivery struct {
	e  event.Event
	to subscriber
}

// New returns a broker; every event it carries is checked against its
// schema. In Async mode, the test's cleanup waits for deliveries in flight.
func New(t *testing.T, opts ...Option) *Broker {
	b := &Broker{t: t, subs: map[string][]subscriber{}, rng: rand.New(rand.NewPCG(1, 42))}
	for _, o := range opts {
		o(b)
	}
	t.Cleanup(b.inFlight.Wait)
	return b
}

// Subscribe routes to h the event types operation name consumes, as its
// Triggers do. The PingSource's type is left out: tests sweep explicitly.
func (b *Broker) Subscribe(name string, h eventhttp.Handler) {
	op, ok := operation.ByName(name)
	if !ok {
		b.t.Fatalf("eventtest: unknown operation %q", name)
	}
	for _, typ := range op.Consumes {
		if typ != schemas.TypePing {
			b.subs[typ] = append(b.subs[typ], subscriber{name, h})
		}
	}
}

// SubscribeAll subscribes every handler of handlers (keyed by operation).
func (b *Broker) SubscribeAll(handlers map[string]eventhttp.Handler) {
	for _, name := range slices.Sorted(maps.Keys(handlers)) {
		b.Subscribe(name, handlers[name])
	}
}

// SubscribeHTTP routes the operation's events to the Service at base, POSTed
// in binary mode to the operation's event path, with the reply read from the
// response, as the broker's dispatcher does.
func (b *Broker) SubscribeHTTP(name, base string) {
	op, _ := operation.ByName(name)
	b.Subscribe(name, Poster(base+op.EventPath))
}

// SetDown makes Send refuse events (the ingress is unreachable) or accept
// them again.
func (b *Broker) SetDown(down bool) { b.down.Store(down) }

// Send takes an event in, as the ingress at K_SINK does.
func (b *Broker) Send(_ context.Context, e event.Event) error {
	if b.down.Load() {
		return eventhttp.ErrNotAccepted
	}
	b.mu.Lock()
	lost := b.dropRate > 0 && b.rng.Float64() < b.dropRate
	b.mu.Unlock()
	if !lost {
		b.publish(e)
	}
	return nil
}

// URL serves the ingress over HTTP (a K_SINK for a Function): binary or
// structured events, 202 once taken.
func (b *Broker) URL() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.ingress == nil {
		b.ingress = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			e, err := cehttp.NewEventFromHTTPRequest(r)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			if err := b.Send(r.Context(), *e); err != nil {
				http.Error(w, err.Error(), http.StatusServiceUnavailable)
				return
			}
			w.WriteHeader(http.StatusAccepted)
		}))
		b.t.Cleanup(b.ingress.Close)
	}
	return b.ingress.URL
}

// Wait blocks until every delivery in flight (Async) has finished.
func (b *Broker) Wait() { b.inFlight.Wait() }

// Handled is how many deliveries were made.
func (b *Broker) Handled() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.handled
}

func (b *Broker) publish(e event.Event) {
	schematest.Check(b.t, e)
	subs := b.subs[e.Type()]
	if !b.async {
		b.mu.Lock()
		for _, s := range subs {
			b.queue = append(b.queue, delivery{e, s})
		}
		b.mu.Unlock()
		return
	}
	for _, s := range subs {
		b.inFlight.Add(1)
		go func() {
			defer b.inFlight.Done()
			b.deliver(delivery{e, s})
			b.mu.Lock()
			again := b.dupRate > 0 && b.rng.Float64() < b.dupRate
			b.mu.Unlock()
			if again {
				b.deliver(delivery{e, s})
			}
		}()
	}
}

// Drain delivers queued events, workers at a time, until none is left.
func (b *Broker) Drain(workers int) {
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				d, ok := b.pick()
				if !ok {
					return
				}
				b.deliver(d)
			}
		}()
	}
	wg.Wait()
}

// pick takes a random queued delivery; with dupRate it stays queued too.
func (b *Broker) pick() (delivery, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.queue) == 0 {
		return delivery{}, false
	}
	i := b.rng.IntN(len(b.queue))
	d := b.queue[i]
	if b.rng.Float64() >= b.dupRate {
		b.queue = slices.Delete(b.queue, i, i+1)
	}
	return d, true
}

// deliver hands d over until it succeeds, then publishes its reply.
func (b *Broker) deliver(d delivery) {
	for range maxAttempts {
		b.mu.Lock()
		b.handled++
		b.mu.Unlock()
		reply, err := d.to.h(context.Background(), d.e)
		if errors.Is(err, eventhttp.ErrPermanent) {
			b.t.Errorf("eventtest: %s refused %s %s: %v", d.to.name, d.e.Type(), d.e.ID(), err)
			return
		}
		if err != nil {
			time.Sleep(10 * time.Millisecond)
			continue
		}
		if reply != nil {
			b.publish(*reply)
		}
		return
	}
	b.t.Errorf("eventtest: %s never took %s %s", d.to.name, d.e.Type(), d.e.ID())
}

// Poster is a handler that POSTs the event in binary mode to url and reads
// the reply from the response: 5xx and network errors are errors (retried),
// another status than 2xx fails the test.
func Poster(url string) eventhttp.Handler {
	client := &http.Client{Timeout: 30 * time.Second}
	return func(ctx context.Context, e event.Event) (*event.Event, error) {
		req, err := cehttp.NewHTTPRequestFromEvent(ctx, url, e)
		if err != nil {
			return nil, err
		}
		resp, err := client.Do(req)
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		switch {
		case resp.StatusCode >= 500:
			return nil, fmt.Errorf("%s answered %d", url, resp.StatusCode)
		case resp.StatusCode >= 300:
			return nil, fmt.Errorf("%w: %s answered %d", eventhttp.ErrPermanent, url, resp.StatusCode)
		case resp.Header.Get("Ce-Id") == "":
			return nil, nil
		}
		return cehttp.NewEventFromHTTPResponse(resp)
	}
}
