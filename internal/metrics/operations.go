package metrics

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// DeadLetters counts the dead letters the dead-letter operation stored.
type DeadLetters struct {
	stored prometheus.Counter // wdm_dead_letters_stored_total
}

// NewDeadLetters registers the dead-letter series on reg.
func NewDeadLetters(reg prometheus.Registerer) *DeadLetters {
	m := &DeadLetters{stored: newCounter("dead_letters", "stored_total",
		"Dead-lettered events stored for inspection and replay (a repeat of one already stored is not counted).")}
	reg.MustRegister(m.stored)
	return m
}

// Stored counts one new dead letter. A nil DeadLetters counts nothing.
func (m *DeadLetters) Stored() {
	if m != nil {
		m.stored.Inc()
	}
}

// CountFunc counts something in a database at scrape time.
type CountFunc func(ctx context.Context) (int, error)

// scrapeTimeout bounds a count query, so a slow database cannot hold a scrape.
const scrapeTimeout = 2 * time.Second

// stuckSagas is a collector: the count is a query, evaluated when
// Prometheus scrapes, so it is right whichever replica serves the scrape
// and costs nothing between scrapes.
type stuckSagas struct {
	desc      *prometheus.Desc
	failed    *prometheus.Desc
	count     CountFunc
	olderThan time.Duration
}

// NewStuckSagas registers wdm_saga_stuck, the running sagas older than
// olderThan as count finds them at each scrape. A failing query exports
// wdm_saga_stuck_scrape_error 1 instead of a stale or zero gauge.
func NewStuckSagas(reg prometheus.Registerer, olderThan time.Duration, count CountFunc) {
	reg.MustRegister(&stuckSagas{
		desc: prometheus.NewDesc(namespace+"_saga_stuck",
			"Checkout sagas still running longer than the threshold (label older_than): the ones shopctl saga stuck lists.",
			nil, prometheus.Labels{"older_than": olderThan.String()}),
		failed: prometheus.NewDesc(namespace+"_saga_stuck_scrape_error",
			"1 when the stuck-saga count could not be read at this scrape.", nil, nil),
		count:     count,
		olderThan: olderThan,
	})
}

// Describe sends the collector's descriptions.
func (c *stuckSagas) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc; ch <- c.failed }

// Collect runs the count query.
func (c *stuckSagas) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), scrapeTimeout)
	defer cancel()
	n, err := c.count(ctx)
	if err != nil {
		ch <- prometheus.MustNewConstMetric(c.failed, prometheus.GaugeValue, 1)
		return
	}
	ch <- prometheus.MustNewConstMetric(c.failed, prometheus.GaugeValue, 0)
	ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(n))
}
