package broker

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	amqp "github.com/rabbitmq/amqp091-go"
	eventingv1 "knative.dev/eventing/pkg/apis/eventing/v1"

	"github.com/wdm-knative/webshop/internal/metrics"
)

// ErrNoBrokerName is a Config without a broker name.
var ErrNoBrokerName = errors.New("broker name is empty")

// defaultPublishChannels is the size of the publisher channel pool.
const defaultPublishChannels = 8

// Config is what a Broker needs; cmd/broker fills it from the environment.
type Config struct {
	Name        string               // broker name (Trigger spec.broker); names the RabbitMQ objects
	AMQPURL     string               // RabbitMQ server
	Triggers    []eventingv1.Trigger // routing table; Triggers of other brokers are ignored
	Subscribers map[string]string    // Service name -> base URL, for subscriber refs
	Logger      *slog.Logger         // nil: slog.Default()
	HTTPClient  *http.Client         // for deliveries; nil: NewHTTPClient()
	// PublishChannels is the size of the confirm channel pool (0: default).
	PublishChannels int
	// Registry receives the broker's series, which Handler serves on GET
	// /metrics; nil: a registry of its own (see metrics.NewRegistry).
	Registry *prometheus.Registry
}

// Broker is one broker: its ingress handler and a dispatcher per Trigger.
type Broker struct {
	name        string
	topo        topology
	dispatchers []*dispatcher
	sink        *sinkDispatcher // nil when no Trigger names a deadLetterSink
	pubLink     *link           // ingress, replies and dead letters
	subLink     *link           // consumers; apart from publishers so that RabbitMQ's
	// flow control on a busy publishing connection never stalls acks
	pub      *publisher
	log      *slog.Logger
	registry *prometheus.Registry
	metrics  *metrics.Broker
}

// New checks the configuration and prepares a Broker; nothing connects yet.
func New(cfg Config) (*Broker, error) {
	if cfg.Name == "" {
		return nil, ErrNoBrokerName
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	log = log.With("broker", cfg.Name)
	client := cfg.HTTPClient
	if client == nil {
		client = NewHTTPClient()
	}
	routes, err := routesOf(cfg.Name, cfg.Triggers, cfg.Subscribers)
	if err != nil {
		return nil, err
	}
	if other := len(cfg.Triggers) - len(routes); other > 0 {
		log.Info("triggers of other brokers ignored", "count", other)
	}
	reg := cfg.Registry
	if reg == nil {
		reg = metrics.NewRegistry()
	}
	b := &Broker{
		name: cfg.Name,
		topo: topology{exchange: exchangeName(cfg.Name), deadLetter: deadLetterName(cfg.Name),
			sinkQueue: sinkQueueName(cfg.Name)},
		log:      log,
		registry: reg,
		metrics:  metrics.NewBroker(reg),
	}
	for _, r := range routes {
		b.topo.queues = append(b.topo.queues, boundQueue{name: r.queue, filter: r.filter})
	}
	setup := func(conn *amqp.Connection) error {
		ch, err := conn.Channel()
		if err != nil {
			return err
		}
		defer ch.Close()
		return b.topo.declare(ch)
	}
	b.pubLink = newLink(cfg.AMQPURL, "broker."+cfg.Name+".publish", setup, log)
	b.subLink = newLink(cfg.AMQPURL, "broker."+cfg.Name+".consume", setup, log)
	channels := cfg.PublishChannels
	if channels <= 0 {
		channels = defaultPublishChannels
	}
	b.pub = newPublisher(b.pubLink, channels)
	for _, r := range routes {
		b.dispatchers = append(b.dispatchers, &dispatcher{
			route:      r,
			link:       b.subLink,
			pub:        b.pub,
			exchange:   b.topo.exchange,
			routable:   b.topo.routable,
			deadLetter: b.topo.deadLetter,
			sinkQueue:  b.topo.sinkQueue,
			client:     client,
			log:        log,
			broker:     b.metrics,
			trigger:    b.metrics.Trigger(r.trigger),
		})
		log.Info("trigger", "trigger", r.trigger, "filter", r.filter, "subscriber", r.target,
			"parallelism", r.policy.Parallelism, "retry", r.policy.Retry, "dead_letter_sink", r.deadLetterSink)
		if r.deadLetterSink != "" && b.sink == nil {
			b.sink = &sinkDispatcher{link: b.subLink, queue: b.topo.sinkQueue, client: client, log: log, metrics: b.metrics}
		}
	}
	return b, nil
}

// Run connects to RabbitMQ and dispatches until ctx ends; then it stops
// consuming, finishes the deliveries under way and closes its connections.
// Stop the ingress's HTTP server before cancelling ctx: ingress publishes
// need the connection that Run closes on return.
func (b *Broker) Run(ctx context.Context) {
	linkCtx, stopLinks := context.WithCancel(context.WithoutCancel(ctx))
	var links sync.WaitGroup
	for _, l := range []*link{b.pubLink, b.subLink} {
		links.Add(1)
		go func() { defer links.Done(); l.run(linkCtx) }()
	}
	var wg sync.WaitGroup
	for _, d := range b.dispatchers {
		wg.Add(1)
		go func() { defer wg.Done(); d.run(ctx) }()
	}
	if b.sink != nil {
		wg.Add(1)
		go func() { defer wg.Done(); b.sink.run(ctx) }()
	}
	<-ctx.Done()
	wg.Wait()
	b.pub.close()
	stopLinks()
	links.Wait()
	b.log.Info("broker stopped")
}

// Ready reports whether both RabbitMQ connections are up.
func (b *Broker) Ready() bool { return b.pubLink.connected() && b.subLink.connected() }
