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
// Dead letters: after the last retry the event, with the extensions
// knativeerrorcode, knativeerrordest and knativeerrordata, is published to
// the broker's durable dead-letter queue "broker.<name>.dead-letter" before
// the original is acked. In a cluster each Trigger's deadLetterSink (the
// dead-letter Service) receives it; locally the queue is the sink, to be
// inspected with RabbitMQ's tools. A non-retryable 4xx is acked without a
// dead letter, as eventing-rabbitmq's dispatcher does.
package broker
