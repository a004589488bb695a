package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// sagaBuckets span a checkout decided in milliseconds to one failed by the
// recovery sweep after SAGA_DEADLINE (30 s by default) and its compensation.
var sagaBuckets = []float64{.01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120, 300}

// The outcomes of a checkout saga (its final statuses).
const (
	OutcomePaid   = "paid"
	OutcomeFailed = "failed"
)

// Saga counts checkout sagas reaching their final state and how long they took.
type Saga struct {
	outcomes     *prometheus.CounterVec // wdm_saga_outcomes_total{outcome}
	paid, failed prometheus.Counter
	duration     prometheus.Histogram // wdm_saga_duration_seconds
}

// NewSaga registers the saga series on reg. Both outcomes are exported from
// the start (at zero), so a failure rate has a denominator before the first
// failure.
func NewSaga(reg prometheus.Registerer) *Saga {
	m := &Saga{
		outcomes: newCounterVec("saga", "outcomes_total", "Checkout sagas decided, by outcome (paid, failed).", "outcome"),
		duration: prometheus.NewHistogram(histogramOpts("saga", "duration_seconds",
			"Time from a checkout saga's start to its decision.", sagaBuckets)),
	}
	m.paid = m.outcomes.WithLabelValues(OutcomePaid)
	m.failed = m.outcomes.WithLabelValues(OutcomeFailed)
	reg.MustRegister(m.outcomes, m.duration)
	return m
}

// Decided records a saga that reached its final state with outcome
// (OutcomePaid or OutcomeFailed) took after it began. It is to be called
// once per saga, by the transaction that decided it. A nil *Saga records
// nothing, for callers that export no metrics.
func (m *Saga) Decided(outcome string, took time.Duration) {
	if m == nil {
		return
	}
	switch outcome {
	case OutcomePaid:
		m.paid.Inc()
	case OutcomeFailed:
		m.failed.Inc()
	default:
		m.outcomes.WithLabelValues(outcome).Inc()
	}
	m.duration.Observe(max(took, 0).Seconds())
}
