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

	"github.com/cloudevents/sdk-go/v2/event"
	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/wdm-knative/webshop/internal/metrics"
)

// Extensions Knative sets on a dead-lettered event.
const (
	ExtErrorCode = "knativeerrorcode"
	ExtErrorDest = "knativeerrordest"
	ExtErrorData = "knativeerrordata"
)

const (
	// prefetchPerWorker keeps a next message ready for every worker so that
	// workers do not wait a round trip for RabbitMQ after each ack.
	prefetchPerWorker = 4
	// requeueDelay throttles a message that could not be finished (its reply
	// or dead letter could not be published): it goes back to the queue, but
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
	deadLetter string
	client     *http.Client
	log        *slog.Logger
	broker     *metrics.Broker            // replies published
	trigger    *metrics.TriggerDeliveries // this Trigger's deliveries
}

// run consumes until ctx ends, subscribing again after every broken channel
// or connection. On return every delivery it started has been finished.
func (d *dispatcher) run(ctx context.Context) {
	delay := minReconnectDelay
	for ctx.Err() == nil {
		started := time.Now()
		err := d.consume(ctx)
		if ctx.Err() != nil {
			return
		}
		if time.Since(started) > stableAfter {
			delay = minReconnectDelay
		}
		// After a RabbitMQ restart a quorum queue may refuse consumers until
		// its Raft group has a leader: keep trying, quietly at first.
		d.log.Warn("consumer stopped", "err", err, "retry_in", delay.String())
		sleep(ctx, delay)
		delay = min(delay*2, maxReconnectDelay)
	}
}

// consume runs one subscription on a fresh channel.
func (d *dispatcher) consume(ctx context.Context) error {
	conn, err := d.link.connection(ctx)
	if err != nil {
		return err
	}
	ch, err := conn.Channel()
	if err != nil {
		return fmt.Errorf("open channel: %w", err)
	}
	defer ch.Close()
	workers := d.route.policy.Parallelism
	if err := ch.Qos(workers*prefetchPerWorker, 0, false); err != nil {
		return fmt.Errorf("set prefetch: %w", err)
	}
	tag := "dispatcher." + d.route.trigger
	deliveries, err := ch.Consume(d.route.queue, tag, false, false, false, false, nil)
	if err != nil {
		return fmt.Errorf("consume %s: %w", d.route.queue, err)
	}
	closed := ch.NotifyClose(make(chan *amqp.Error, 1))

	// stop ends retry waits of in-flight deliveries when the channel is gone
	// (their acks could not land anyway) or on shutdown (RabbitMQ requeues
	// what was not acked). An HTTP attempt already under way is finished.
	stopCtx, stop := context.WithCancel(ctx)
	defer stop()
	work := make(chan amqp.Delivery)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for dl := range work {
				d.handle(stopCtx, &dl)
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
			_ = ch.Cancel(tag, false)
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

// handle delivers one message and settles it: ack after success (and after
// its reply is safely published), ack after a dead letter is safely
// published, requeue when neither could be made safe.
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
	withEvent := func() *slog.Logger {
		return d.log.With("trigger", d.route.trigger, "event_id", dl.Headers["id"], "event_type", dl.Headers["type"])
	}
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
			// as handled: the subscriber has seen and refused the event.
			log = withEvent()
			log.Warn("subscriber refused event", "status", a.status, "body", string(a.data))
			if d.settle(dl.Ack, log) {
				d.trigger.Delivered(a.status)
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
		if !sleep(ctx, p.Backoff(n+1)) {
			return // shutting down or channel gone: RabbitMQ redelivers it
		}
		d.trigger.Retried()
	}
}

// succeed publishes the reply (if any) and then acks: the reply must be
// safe before the original can be forgotten, else a crash loses it.
func (d *dispatcher) succeed(ctx context.Context, dl *amqp.Delivery, a attempt, log *slog.Logger) {
	if a.reply != nil {
		if err := d.publish(ctx, d.exchange, *a.reply); err != nil {
			log.Warn("reply not published; requeueing original", "err", err)
			d.requeue(ctx, dl, log)
			return
		}
		d.broker.ReplyPublished()
	}
	if d.settle(dl.Ack, log) {
		d.trigger.Delivered(a.status)
	}
}

// deadLetterEvent publishes the failed event with Knative's error extensions
// to the dead-letter exchange and then acks the original.
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
	failed.SetExtension(ExtErrorDest, d.route.target)
	failed.SetExtension(ExtErrorCode, int32(a.status))
	if len(a.data) > 0 {
		failed.SetExtension(ExtErrorData, base64.StdEncoding.EncodeToString(a.data))
	}
	log.Error("delivery failed, dead-lettering", "status", a.status, "err", a.err, "subscriber", d.route.target)
	if err := d.publishEvent(ctx, d.deadLetter, &failed); err != nil {
		log.Warn("dead letter not published; requeueing original", "err", err)
		d.requeue(ctx, dl, log)
		return
	}
	// Counted once it is in the dead-letter queue: should the ack fail,
	// the redelivery is dead-lettered (and counted) again.
	d.trigger.DeadLettered()
	d.settle(dl.Ack, log)
}

func (d *dispatcher) publishEvent(ctx context.Context, exchange string, ev *event.Event) error {
	msg, err := toPublishing(ev)
	if err != nil {
		return err
	}
	return d.publish(ctx, exchange, msg)
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
	sleep(ctx, requeueDelay)
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
