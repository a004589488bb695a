package broker

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/wdm-knative/webshop/internal/backoff"
	"github.com/wdm-knative/webshop/internal/metrics"
)

// sinkHeader carries a dead letter's deadLetterSink URL on its AMQP message.
// The x- prefix keeps it out of the CloudEvent (see rabbitHeaderPrefix).
const sinkHeader = "x-dead-letter-sink"

const (
	// sinkTimeout bounds one POST to a deadLetterSink.
	sinkTimeout = 30 * time.Second
	// sinkWorkers is how many dead letters are handed over at once: they
	// are rare, and the sink is one small Service.
	sinkWorkers = 4
	// maxSinkBackoff caps the wait between attempts on a sink that is down.
	maxSinkBackoff = 30 * time.Second
)

// sinkDispatcher hands dead letters to their Trigger's deadLetterSink (the
// dead-letter operation), as a cluster's RabbitMQ Broker does. Unlike
// upstream, which gives up on a sink after the Trigger's retries, it keeps
// a dead letter unacked and tries again, backing off, until the sink takes
// it: a failed event must never end up only as a log line. A sink that
// refuses one for good (a 4xx it does not retry) gets it parked in the
// dead-letter queue, where RabbitMQ's tools still show it.
type sinkDispatcher struct {
	link    *link
	queue   string // the sink queue; it rejects to the parked queue
	client  *http.Client
	log     *slog.Logger
	metrics *metrics.Broker
}

func (s *sinkDispatcher) run(ctx context.Context) {
	c := consumer{link: s.link, queue: s.queue, tag: "dead-letter-sink", workers: sinkWorkers, handle: s.handle, log: s.log}
	c.run(ctx)
}

// handle delivers one dead letter and settles it.
func (s *sinkDispatcher) handle(ctx context.Context, dl *amqp.Delivery) {
	err := checkStored(dl)
	target, _ := dl.Headers[sinkHeader].(string)
	if err != nil || target == "" {
		// Only the dispatchers publish here, so this is a bug or a hand-made
		// message: reject it to the sink queue's dead-letter exchange.
		s.log.Error("unusable dead letter parked", "err", err, "sink", target)
		_ = dl.Nack(false, false)
		return
	}
	log := s.log.With("event_id", dl.Headers["id"], "event_type", dl.Headers["type"], "dead_letter_sink", target)
	for n := 1; ; n++ {
		a := post(context.WithoutCancel(ctx), s.client, target, dl, sinkTimeout)
		switch {
		case a.is2xx():
			// Taken; a reply from a sink is not routed anywhere.
			if dl.Ack(false) == nil {
				s.metrics.DeadLetterSent()
			}
			return
		case a.refused():
			log.Error("dead-letter sink refused a dead letter; parked", "status", a.status, "body", string(a.data))
			_ = dl.Nack(false, false)
			return
		}
		wait := min(100*time.Millisecond<<min(n, 10), maxSinkBackoff)
		log.Warn("dead-letter sink unavailable; trying again", "status", a.status, "err", a.err, "retry_in", wait.String())
		if !backoff.Sleep(ctx, wait) {
			return // shutting down or channel gone: RabbitMQ redelivers it
		}
	}
}
