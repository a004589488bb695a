package metrics

import (
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// requestBuckets span a cached read (about a millisecond) to a checkout that
// waits out its saga (CHECKOUT_TIMEOUT, 30 s by default).
var requestBuckets = []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60}

// Requests counts and times the requests a function's operations serve,
// HTTP routes and CloudEvent deliveries alike. The operation name is the
// label, never the path: paths carry ids, which would make a series per order.
type Requests struct {
	total    *prometheus.CounterVec   // wdm_http_requests_total{operation,code}
	duration *prometheus.HistogramVec // wdm_http_request_duration_seconds{operation}
}

// NewRequests registers the request series on reg.
func NewRequests(reg prometheus.Registerer) *Requests {
	m := &Requests{
		total: newCounterVec("http", "requests_total", "Requests served, by operation and HTTP status code.", "operation", "code"),
		duration: prometheus.NewHistogramVec(histogramOpts("http", "request_duration_seconds",
			"Time to serve a request, by operation.", requestBuckets), []string{"operation"}),
	}
	reg.MustRegister(m.total, m.duration)
	return m
}

// Wrap returns h, the handler of the named operation, counting and timing
// every request it serves. The operation's series are resolved here, once,
// so a request costs a clock read, a small status recorder and two atomic adds.
func (m *Requests) Wrap(operation string, h http.Handler) http.Handler {
	codes := newByCode(m.total, operation)
	duration := m.duration.WithLabelValues(operation)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		h.ServeHTTP(sw, r)
		duration.Observe(time.Since(start).Seconds())
		codes.inc(sw.status())
	})
}

// statusWriter remembers the status code a handler answered with.
type statusWriter struct {
	http.ResponseWriter
	code int
}

func (w *statusWriter) WriteHeader(code int) {
	// 1xx are informational (103 Early Hints); the final status follows.
	if w.code == 0 && code >= 200 {
		w.code = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection's writer (to
// flush, or to set deadlines) through the recorder.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// status is what the client received: net/http answers 200 for a handler
// that wrote nothing.
func (w *statusWriter) status() int {
	if w.code == 0 {
		return http.StatusOK
	}
	return w.code
}
