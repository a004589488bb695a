// Package metricstest reads the series a registry or a /metrics endpoint
// exports, so tests can assert that counters moved with the right labels.
package metricstest

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// Samples are the values of counters and gauges, and the _count and _sum of
// histograms, keyed by Key.
type Samples map[string]float64

// Key names one series: its name and its labels as name/value pairs, in any
// order ("code", "200", "operation", "stock-find").
func Key(name string, labelPairs ...string) string {
	if len(labelPairs)%2 != 0 {
		panic("metricstest: odd number of label name/value strings")
	}
	var pairs []string
	for i := 0; i < len(labelPairs); i += 2 {
		pairs = append(pairs, labelPairs[i]+"="+`"`+labelPairs[i+1]+`"`)
	}
	if len(pairs) == 0 {
		return name
	}
	slices.Sort(pairs)
	return name + "{" + strings.Join(pairs, ",") + "}"
}

// Get is the value of one series (0 when it is not exported).
func (s Samples) Get(name string, labelPairs ...string) float64 {
	return s[Key(name, labelPairs...)]
}

// Gather reads what g exports.
func Gather(t testing.TB, g prometheus.Gatherer) Samples {
	t.Helper()
	families, err := g.Gather()
	if err != nil {
		t.Fatalf("gather metrics: %v", err)
	}
	return samplesOf(families)
}

// Scrape GETs /metrics from h and parses the text it answers, as Prometheus would.
func Scrape(t testing.TB, h http.Handler) Samples {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("GET /metrics = %d %s", rec.Code, rec.Body)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(rec.Body)
	if err != nil {
		t.Fatalf("parse /metrics: %v", err)
	}
	list := make([]*dto.MetricFamily, 0, len(families))
	for _, f := range families {
		list = append(list, f)
	}
	return samplesOf(list)
}

func samplesOf(families []*dto.MetricFamily) Samples {
	out := Samples{}
	for _, f := range families {
		for _, m := range f.GetMetric() {
			var labels []string
			for _, l := range m.GetLabel() {
				labels = append(labels, l.GetName(), l.GetValue())
			}
			name := f.GetName()
			switch {
			case m.Counter != nil:
				out[Key(name, labels...)] = m.GetCounter().GetValue()
			case m.Gauge != nil:
				out[Key(name, labels...)] = m.GetGauge().GetValue()
			case m.Untyped != nil:
				out[Key(name, labels...)] = m.GetUntyped().GetValue()
			case m.Histogram != nil:
				out[Key(name+"_count", labels...)] = float64(m.GetHistogram().GetSampleCount())
				out[Key(name+"_sum", labels...)] = m.GetHistogram().GetSampleSum()
			}
		}
	}
	return out
}
