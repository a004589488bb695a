package broker

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/wdm-knative/webshop/internal/backoff"
	"github.com/wdm-knative/webshop/internal/eventhttp"
	"github.com/wdm-knative/webshop/internal/metrics"
)

const (
	// prefetchPerWorker keeps a next message ready for every worker so that
	// workers do not wait a round trip for RabbitMQ after each ack.
	prefetchPerWorker = 4
	// requeueDelay throttles a message that could not be finished (its dead
	// letter could not be published): it goes back to the queue, but
	// not in a hot loop while RabbitMQ is struggling.
	requeueDelay = 500 * time.Millisecond
	// stableAfter is how long a consumer must have run before a failure no
	// longer counts as "still failing" for the resubscribe backoff.
	stableAfter = 5 * time.Second
)

// dispatcher consumes one Trigger's queue and delivers to its subscriber.
type dispatcher struct {
	route      route
	link       *link
	pub        *publisher
	exchange   string
	routable   func(amqp.Table) bool // whether a reply reaches any Trigger
	deadLetter string                // parked dead letters: no sink, or the sink refused them
	sinkQueue  string                // dead letters on their way to the Trigger's deadLetterSink
	client     *http.Client
	log        *slog.Logger
	broker     *metrics.Broker            // replies published
	trigger    *metrics.TriggerDeliveries // this Trigger's deliveries
}

// run consumes the Trigger's queue until ctx ends.
func (d *dispatcher) run(ctx context.Context) {
	c := consumer{link: d.link, queue: d.route.queue, tag: "dispatcher." + d.route.trigger,
		workers: d.route.policy.Parallelism, handle: d.handle, log: d.log}
	c.run(ctx)
}

// consumer runs workers on one queue, subscribing again after every broken
// channel or connection.
type consumer struct {
	link    *link
	queue   string
	tag     string
	workers int
	handle  func(context.Context, *amqp.Delivery) // settles the message
	log     *slog.Logger
}

// run consumes until ctx ends. On return every delivery it started has
// been finished.
func (c *consumer) run(ctx context.Context) {
	// After a RabbitMQ restart a quorum queue may refuse consumers until its
	// Raft group has a leader: keep trying.
	backoff.Repeat(ctx, stableAfter, c.consume, func(err error, pause time.Duration) {
		c.log.Warn("consumer stopped", "queue", c.queue, "err", err, "retry_in", pause.String())
	})
}

// consume runs one subscription on a fresh channel.
func (c *consumer) consume(ctx context.Context) error {
	conn, err := c.link.connection(ctx)
	if err != nil {
		return err
	}
	ch, err := conn.Channel()
	if err != nil {
		return fmt.Errorf("open channel: %w", err)
	}
	defer ch.Close()
	if err := ch.Qos(c.workers*prefetchPerWorker, 0, false); err != nil {
		return fmt.Errorf("set prefetch: %w", err)
	}
	deliveries, err := ch.Consume(c.queue, c.tag, false, false, false, false, nil)
	if err != nil {
		return fmt.Errorf("consume %s: %w", c.queue, err)
	}
	closed := ch.NotifyClose(make(chan *amqp.Error, 1))

	// stop ends retry waits of in-flight deliveries when the channel is gone
	// (their acks could not land anyway) or on shutdown (RabbitMQ requeues
	// what was not acked). An HTTP attempt already under way is finished.
	stopCtx, stop := context.WithCancel(ctx)
	defer stop()
	work := make(chan amqp.Delivery)
	var wg sync.WaitGroup
	for range c.workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for dl := range work {
				c.handle(stopCtx, &dl)
			}
		}()
	}
	finish := func() {
		close(work)
		wg.Wait()
	}
	for {
		select {
		case <-ctx.Done():
			// Stop the flow first, then let workers finish what they hold;
			// prefetched messages not yet handed out return to the queue
			// when the channel closes.
			_ = ch.Cancel(c.tag, false)
			stop()
			finish()
			return ctx.Err()
		case err := <-closed:
			stop()
			finish()
			return fmt.Errorf("channel closed: %w", amqpErr(err))
		case dl, ok := <-deliveries:
			if !ok {
				stop()
				finish()
				return errors.New("delivery stream ended")
			}
			select {
			case work <- dl:
			case <-ctx.Done():
				// Not handed out: leave it unacked, RabbitMQ requeues it.
			}
		}
	}
}

// handle delivers one message and settles it the way eventing-rabbitmq's
// dispatcher does: ack after success (and after its reply is published);
// ack without a dead letter after a status it does not retry (e.g. 400);
// ack after a dead letter is published when retries ran out or the reply
// could not be published. Only when even the dead letter cannot be
// published does the message go back to its queue.
func (d *dispatcher) handle(ctx context.Context, dl *amqp.Delivery) {
	if err := checkStored(dl); err != nil {
		// It cannot become deliverable by waiting: reject it to the queue's
		// dead-letter exchange.
		d.log.Error("undeliverable message rejected", "trigger", d.route.trigger, "err", err)
		if dl.Nack(false, false) == nil {
			d.trigger.DeadLettered() // by the queue's dead-letter exchange
		}
		return
	}
	// No logger with attributes per delivery: only the rare paths below
	// pay for one.
	log := d.log
	withEvent := func() *slog.Logger { return d.eventLog(dl) }
	p := d.route.policy
	for n := 0; ; n++ {
		// Not ctx: an attempt under way when shutdown begins is finished.
		a := post(context.WithoutCancel(ctx), d.client, d.route.target, dl, p.Timeout)
		switch {
		case a.delivered():
			d.succeed(ctx, dl, a, log)
			return
		case a.refused():
			// Knative's RabbitMQ dispatcher counts any non-retryable status
			// as handled: the subscriber has seen and refused the event,
			// and it is dropped, not dead-lettered (counted as refused).
			log = withEvent()
			log.Warn("subscriber refused event; dropped", "status", a.status, "body", string(a.data))
			if d.settle(dl.Ack, log) {
				d.trigger.Delivered(a.status)
				d.trigger.Refused(a.status)
			}
			return
		case a.badReply(), n >= p.Retry:
			// A retry would not fix a handler's malformed output.
			d.deadLetterEvent(ctx, dl, a, withEvent())
			return
		}
		if log.Enabled(ctx, slog.LevelDebug) {
			withEvent().Debug("delivery failed, retrying", "status", a.status, "err", a.err, "retry", n+1)
		}
		if !backoff.Sleep(ctx, p.Backoff(n+1)) {
			return // shutting down or channel gone: RabbitMQ redelivers it
		}
		d.trigger.Retried()
	}
}

// eventLog is the dispatcher's logger with the delivery's event named, for
// the rare paths that log one.
func (d *dispatcher) eventLog(dl *amqp.Delivery) *slog.Logger {
	return d.log.With("trigger", d.route.trigger, "event_id", dl.Headers["id"], "event_type", dl.Headers["type"])
}

// succeed publishes the reply (if any) and then acks. A reply that cannot
// be published dead-letters the original, as upstream does: it is not
// delivered again, so whatever waited for the reply (the saga) must be
// re-driven by its own recovery (the saga sweep), as in a cluster.
func (d *dispatcher) succeed(ctx context.Context, dl *amqp.Delivery, a attempt, log *slog.Logger) {
	switch {
	case a.reply == nil:
	case !d.routable(a.reply.Headers):
		d.broker.ReplyUnrouted() // no Trigger takes it: nothing to publish
	default:
		if err := d.publish(ctx, d.exchange, *a.reply); err != nil {
			log = d.eventLog(dl)
			log.Warn("reply not published; dead-lettering the original", "err", err, "reply_type", a.reply.Headers["type"])
			a.err = fmt.Errorf("reply not published: %w", err)
			a.data = []byte(a.err.Error())
			d.deadLetterEvent(ctx, dl, a, log)
			return
		}
		d.broker.ReplyPublished()
	}
	if d.settle(dl.Ack, log) {
		d.trigger.Delivered(a.status)
	}
}

// deadLetterEvent publishes the failed event with Knative's error extensions
// and then acks the original: to the sink queue, whose consumer hands it to
// the Trigger's deadLetterSink, or, for a Trigger without one, to the
// parked dead-letter queue. Upstream acks first and loses the event should
// the dead letter not be published; here it goes back to its queue instead.
// Only this rare path rebuilds the event from the message.
func (d *dispatcher) deadLetterEvent(ctx context.Context, dl *amqp.Delivery, a attempt, log *slog.Logger) {
	ev, err := fromDelivery(dl)
	if err != nil {
		log.Error("undeliverable message rejected", "err", err)
		if dl.Nack(false, false) == nil {
			d.trigger.DeadLettered() // by the queue's dead-letter exchange
		}
		return
	}
	failed := ev.Clone()
	failed.SetExtension(eventhttp.ExtErrorDest, d.route.target)
	failed.SetExtension(eventhttp.ExtErrorCode, int32(a.status))
	if len(a.data) > 0 {
		failed.SetExtension(eventhttp.ExtErrorData, base64.StdEncoding.EncodeToString(a.data))
	}
	log.Error("delivery failed, dead-lettering", "status", a.status, "err", a.err, "subscriber", d.route.target,
		"dead_letter_sink", d.route.deadLetterSink)
	msg, err := toPublishing(&failed)
	exchange := d.deadLetter
	if err == nil && d.route.deadLetterSink != "" {
		exchange = d.sinkQueue
		msg.Headers[sinkHeader] = d.route.deadLetterSink
	}
	if err == nil {
		err = d.publish(ctx, exchange, msg)
	}
	if err != nil {
		log.Warn("dead letter not published; requeueing original", "err", err)
		d.requeue(ctx, dl, log)
		return
	}
	// Counted once it is in the dead-letter queue: should the ack fail,
	// the redelivery is dead-lettered (and counted) again.
	d.trigger.DeadLettered()
	d.settle(dl.Ack, log)
}

func (d *dispatcher) publish(ctx context.Context, exchange string, msg amqp.Publishing) error {
	// Not ctx alone: a publish under way at shutdown gets its confirm, but
	// it may not wait forever for a RabbitMQ that is gone.
	pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), publishTimeout)
	defer cancel()
	return d.pub.publish(pctx, exchange, msg)
}

// requeue returns a message to its queue after a pause.
func (d *dispatcher) requeue(ctx context.Context, dl *amqp.Delivery, log *slog.Logger) {
	backoff.Sleep(ctx, requeueDelay)
	d.settle(func(bool) error { return dl.Nack(false, true) }, log)
}

// settle acks or nacks and reports whether it did; failing means the
// channel is gone and RabbitMQ redelivers the message, which at-least-once
// delivery allows.
func (d *dispatcher) settle(f func(multiple bool) error, log *slog.Logger) bool {
	if err := f(false); err != nil {
		log.Debug("settle failed; message will be redelivered", "err", err)
		return false
	}
	return true
}

// amqpErr keeps a nil *amqp.Error from becoming a non-nil error.
func amqpErr(err *amqp.Error) error {
	if err == nil {
		return amqp.ErrClosed
	}
	return err
}
