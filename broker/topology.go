package broker

import (
	"fmt"

	amqp "github.com/rabbitmq/amqp091-go"
)

// topology is the set of RabbitMQ objects one broker owns. Every object is
// durable so that persistent messages survive a RabbitMQ restart; declaring
// is idempotent, so it runs again on every new connection.
type topology struct {
	exchange   string // headers exchange the ingress publishes to
	deadLetter string // fanout exchange and queue of parked dead letters
	// sinkQueue is the fanout exchange and queue of dead letters on their
	// way to a deadLetterSink; what cannot be handed over is rejected from
	// it to the parked queue.
	sinkQueue string
	queues    []boundQueue
}

// boundQueue is one Trigger's queue and the headers it matches.
type boundQueue struct {
	name   string
	filter map[string]string
}

// routable reports whether the exchange would route a message with these
// headers to a Trigger's queue: its bindings are x-match all on exactly
// these filters, so an event no filter matches would be confirmed and then
// dropped by RabbitMQ. The broker drops it itself instead, without the
// publish: a checkout's outcome event, with no Trigger on its type, would
// otherwise cost a persistent, confirmed publish that nothing reads.
func (t topology) routable(h amqp.Table) bool {
	for _, q := range t.queues {
		if matchesAll(q.filter, h) {
			return true
		}
	}
	return false
}

// matchesAll is RabbitMQ's headers match with x-match all, for string
// values: every filter attribute present with the same value.
func matchesAll(filter map[string]string, h amqp.Table) bool {
	for k, v := range filter {
		if s, ok := h[k].(string); !ok || s != v {
			return false
		}
	}
	return true
}

// Names follow one scheme per broker so that tests sharing a RabbitMQ server
// stay apart by broker name.
func exchangeName(broker string) string   { return "broker." + broker }
func deadLetterName(broker string) string { return "broker." + broker + ".dead-letter" }
func sinkQueueName(broker string) string  { return "broker." + broker + ".dead-letter-sink" }
func triggerQueueName(broker, trigger string) string {
	return "broker." + broker + ".trigger." + trigger
}

// quorum queues replicate through Raft and, unlike classic mirrored queues,
// are what eventing-rabbitmq declares for Triggers.
var quorum = amqp.Table{"x-queue-type": "quorum"}

// declare creates (or confirms) the whole topology on one channel.
func (t topology) declare(ch *amqp.Channel) error {
	if err := ch.ExchangeDeclare(t.exchange, amqp.ExchangeHeaders, true, false, false, false, nil); err != nil {
		return fmt.Errorf("declare exchange %s: %w", t.exchange, err)
	}
	if err := ch.ExchangeDeclare(t.deadLetter, amqp.ExchangeFanout, true, false, false, false, nil); err != nil {
		return fmt.Errorf("declare exchange %s: %w", t.deadLetter, err)
	}
	if _, err := ch.QueueDeclare(t.deadLetter, true, false, false, false, quorum); err != nil {
		return fmt.Errorf("declare queue %s: %w", t.deadLetter, err)
	}
	if err := ch.QueueBind(t.deadLetter, "", t.deadLetter, false, nil); err != nil {
		return fmt.Errorf("bind queue %s: %w", t.deadLetter, err)
	}
	if err := ch.ExchangeDeclare(t.sinkQueue, amqp.ExchangeFanout, true, false, false, false, nil); err != nil {
		return fmt.Errorf("declare exchange %s: %w", t.sinkQueue, err)
	}
	sinkArgs := amqp.Table{"x-queue-type": "quorum", "x-dead-letter-exchange": t.deadLetter}
	if _, err := ch.QueueDeclare(t.sinkQueue, true, false, false, false, sinkArgs); err != nil {
		return fmt.Errorf("declare queue %s: %w", t.sinkQueue, err)
	}
	if err := ch.QueueBind(t.sinkQueue, "", t.sinkQueue, false, nil); err != nil {
		return fmt.Errorf("bind queue %s: %w", t.sinkQueue, err)
	}
	for _, q := range t.queues {
		args := amqp.Table{
			"x-queue-type": "quorum",
			// A message the dispatcher rejects (not a CloudEvent at all)
			// still ends up where an operator looks for failures.
			"x-dead-letter-exchange": t.deadLetter,
		}
		if _, err := ch.QueueDeclare(q.name, true, false, false, false, args); err != nil {
			return fmt.Errorf("declare queue %s: %w", q.name, err)
		}
		bind := amqp.Table{"x-match": "all"}
		for k, v := range q.filter {
			bind[k] = v
		}
		if err := ch.QueueBind(q.name, "", t.exchange, false, bind); err != nil {
			return fmt.Errorf("bind queue %s: %w", q.name, err)
		}
	}
	return nil
}
