package metrics

import "github.com/prometheus/client_golang/prometheus"

// Broker counts what the local broker does with events: publishes RabbitMQ
// confirmed, and per Trigger the deliveries, retries and dead letters.
type Broker struct {
	published                      *prometheus.CounterVec // wdm_broker_published_total{source}
	ingress, reply                 prometheus.Counter
	unrouted                       *prometheus.CounterVec // wdm_broker_unrouted_total{source}
	ingressUnrouted, replyUnrouted prometheus.Counter
	delivered                      *prometheus.CounterVec // wdm_broker_delivered_total{trigger,code}
	retries                        *prometheus.CounterVec // wdm_broker_retries_total{trigger}
	deadLetters                    *prometheus.CounterVec // wdm_broker_dead_letters_total{trigger}
	refused                        *prometheus.CounterVec // wdm_broker_refused_total{trigger,code}
	deadLetterSent                 prometheus.Counter     // wdm_broker_dead_letter_sink_delivered_total
}

// Where a published event came from (the source label of published).
const (
	SourceIngress = "ingress" // POST to the ingress (K_SINK)
	SourceReply   = "reply"   // reply event in a subscriber's response
)

// NewBroker registers the broker series on reg.
func NewBroker(reg prometheus.Registerer) *Broker {
	m := &Broker{
		published: newCounterVec("broker", "published_total",
			"Events published to the broker's exchange and confirmed by RabbitMQ, by source (ingress, reply).", "source"),
		delivered: newCounterVec("broker", "delivered_total",
			"Events a Trigger's subscriber answered for good (2xx, or a non-retryable 4xx) and the broker acked, by trigger and status code.",
			"trigger", "code"),
		retries: newCounterVec("broker", "retries_total",
			"Delivery attempts repeated after a retryable failure, by trigger.", "trigger"),
		deadLetters: newCounterVec("broker", "dead_letters_total",
			"Events sent to the dead-letter queue, by trigger.", "trigger"),
		refused: newCounterVec("broker", "refused_total",
			"Events a subscriber refused with a status Knative does not retry (e.g. 400): acked and dropped, "+
				"not dead-lettered, as eventing-rabbitmq does; by trigger and status code.", "trigger", "code"),
		deadLetterSent: newCounter("broker", "dead_letter_sink_delivered_total",
			"Dead letters the broker handed to a Trigger's deadLetterSink (the dead-letter operation)."),
		unrouted: newCounterVec("broker", "unrouted_total",
			"Events no Trigger's filter matches, accepted and dropped without a publish (the exchange would drop them), by source.", "source"),
	}
	m.ingressUnrouted = m.unrouted.WithLabelValues(SourceIngress)
	m.replyUnrouted = m.unrouted.WithLabelValues(SourceReply)
	m.ingress = m.published.WithLabelValues(SourceIngress)
	m.reply = m.published.WithLabelValues(SourceReply)
	reg.MustRegister(m.published, m.unrouted, m.delivered, m.retries, m.deadLetters, m.refused, m.deadLetterSent)
	return m
}

// IngressPublished counts an event from the ingress that RabbitMQ confirmed.
func (m *Broker) IngressPublished() { m.ingress.Inc() }

// ReplyPublished counts a reply event that RabbitMQ confirmed.
func (m *Broker) ReplyPublished() { m.reply.Inc() }

// IngressUnrouted counts an event from the ingress that no Trigger takes.
func (m *Broker) IngressUnrouted() { m.ingressUnrouted.Inc() }

// ReplyUnrouted counts a reply event that no Trigger takes.
func (m *Broker) ReplyUnrouted() { m.replyUnrouted.Inc() }

// DeadLetterSent counts a dead letter its deadLetterSink took.
func (m *Broker) DeadLetterSent() { m.deadLetterSent.Inc() }

// Trigger returns the series of one Trigger, resolved once for its
// dispatcher. Its retry and dead-letter counts are exported from zero, so an
// alert on their increase sees every Trigger.
func (m *Broker) Trigger(name string) *TriggerDeliveries {
	return &TriggerDeliveries{
		delivered:   newByCode(m.delivered, name),
		retries:     m.retries.WithLabelValues(name),
		deadLetters: m.deadLetters.WithLabelValues(name),
		refused:     newByCode(m.refused, name),
	}
}

// TriggerDeliveries counts one Trigger's deliveries.
type TriggerDeliveries struct {
	delivered   *byCode
	retries     prometheus.Counter
	deadLetters prometheus.Counter
	refused     *byCode
}

// Delivered counts an event acked after its subscriber answered code.
func (t *TriggerDeliveries) Delivered(code int) { t.delivered.inc(code) }

// Refused counts an event acked, and dropped, after a non-retryable status.
func (t *TriggerDeliveries) Refused(code int) { t.refused.inc(code) }

// Retried counts a failed attempt that will be repeated.
func (t *TriggerDeliveries) Retried() { t.retries.Inc() }

// DeadLettered counts an event sent to the dead-letter queue.
func (t *TriggerDeliveries) DeadLettered() { t.deadLetters.Inc() }
