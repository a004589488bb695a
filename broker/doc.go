// Package broker is the local stand-in for Knative's RabbitMQ Broker
// (eventing-rabbitmq). It reads its routing from the same Trigger manifests a
// cluster uses and mirrors the broker's observable behaviour on a real
// RabbitMQ server, so function code cannot tell the two apart:
//
//   - ingress: POST / (or /{namespace}/{broker}) takes a binary or structured
//     CloudEvent, answers 400 when it is invalid and 202 only after RabbitMQ
//     confirmed the persistent message on the broker's durable headers exchange;
//   - one durable quorum queue per Trigger, bound with the Trigger's
//     spec.filter.attributes and x-match all;
//   - one dispatcher per Trigger: manual acks, prefetch, parallel workers,
//     binary-mode delivery, retries and dead letters per spec.delivery, reply
//     events published back to the exchange before the original is acked;
//   - reconnects after RabbitMQ restarts and declares its topology again.
//
// Dead letters: when retries run out, or the reply of a 2xx cannot be
// published (both as eventing-rabbitmq's dispatcher does), the event, with
// the extensions knativeerrorcode, knativeerrordest and knativeerrordata,
// is published to the broker's queue "broker.<name>.dead-letter-sink" before
// the original is acked; from there it is POSTed to the Trigger's
// spec.delivery.deadLetterSink (the dead-letter operation, resolved like a
// subscriber), retried until the sink takes it. Dead letters of a Trigger
// without a sink, or that the sink refuses, are parked in the durable queue
// "broker.<name>.dead-letter". A status Knative does not retry (a 400, say)
// is acked and dropped without a dead letter, as upstream does, and counted
// in wdm_broker_refused_total.
package broker
