// Package metrics defines the Prometheus series the web shop exports on
// /metrics and the knative/observability dashboard charts: requests of the
// functions' operations, checkout saga outcomes, and the broker's
// publishes, deliveries, retries and dead letters. Each process builds one
// registry and hands it to the constructors here, so nothing hides in
// client_golang's global default registry and tests can run side by side.
package metrics

import (
	"net/http"
	"strconv"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// namespace prefixes every series of the project ("wdm_...").
const namespace = "wdm"

// newCounter and newCounterVec are a counter of the project's namespace,
// without and with labels; histogramOpts are the options of a histogram.
func newCounter(subsystem, name, help string) prometheus.Counter {
	return prometheus.NewCounter(prometheus.CounterOpts{Namespace: namespace, Subsystem: subsystem, Name: name, Help: help})
}

func newCounterVec(subsystem, name, help string, labels ...string) *prometheus.CounterVec {
	return prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Subsystem: subsystem, Name: name, Help: help}, labels)
}

func histogramOpts(subsystem, name, help string, buckets []float64) prometheus.HistogramOpts {
	return prometheus.HistogramOpts{Namespace: namespace, Subsystem: subsystem, Name: name, Help: help, Buckets: buckets}
}

// NewRegistry returns a process's registry, with the Go runtime and process
// collectors (memory, goroutines, CPU, open files) that every service should
// export next to its own series.
func NewRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return reg
}

// Handler serves the series of g in the Prometheus exposition format (GET /metrics).
func Handler(g prometheus.Gatherer) http.Handler {
	return promhttp.HandlerFor(g, promhttp.HandlerOpts{})
}

// Status codes 100..599 get a resolved counter each; others (which net/http
// allows up to 999, but nothing here sends) are looked up every time.
const (
	minCode = 100
	maxCode = 599
)

// byCode is a CounterVec's counters for one fixed label value (an operation,
// a trigger) by HTTP status code. A counter is resolved on the first use of
// its code and read without locking or allocating afterwards: a status code
// is only known once a handler answered, and pre-creating all 500 series
// would export hundreds of zeros per operation.
type byCode struct {
	vec   *prometheus.CounterVec // labels: the fixed one, then code
	fixed string
	codes [maxCode - minCode + 1]atomic.Pointer[counter]
}

// counter boxes a Counter so that atomic.Pointer can hold it.
type counter struct{ prometheus.Counter }

func newByCode(vec *prometheus.CounterVec, fixed string) *byCode {
	return &byCode{vec: vec, fixed: fixed}
}

// inc counts one answer with status code.
func (b *byCode) inc(code int) {
	if code < minCode || code > maxCode {
		b.vec.WithLabelValues(b.fixed, strconv.Itoa(code)).Inc()
		return
	}
	slot := &b.codes[code-minCode]
	c := slot.Load()
	if c == nil {
		// Two first uses may race here; both resolve the same child.
		c = &counter{b.vec.WithLabelValues(b.fixed, strconv.Itoa(code))}
		slot.Store(c)
	}
	c.Inc()
}
