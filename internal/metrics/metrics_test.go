package metrics_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/wdm-knative/webshop/internal/metrics"
	"github.com/wdm-knative/webshop/internal/metrics/metricstest"
)

func TestRequestsWrap(t *testing.T) {
	cases := []struct {
		name     string
		handler  http.HandlerFunc
		wantCode string
	}{
		{"writes nothing", func(http.ResponseWriter, *http.Request) {}, "200"},
		{"writes a body", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("{}")) }, "200"},
		{"sets a status", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusConflict) }, "409"},
		{"early hints first", func(w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(http.StatusEarlyHints)
			w.WriteHeader(http.StatusCreated)
		}, "201"},
		{"second status ignored", func(w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(http.StatusServiceUnavailable)
			w.WriteHeader(http.StatusOK)
		}, "503"},
		{"unusual status", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(799) }, "799"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			reg := metrics.NewRegistry()
			h := metrics.NewRequests(reg).Wrap("stock-find", c.handler)
			for range 2 {
				h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/stock/find/1", nil))
			}
			got := metricstest.Gather(t, reg)
			if n := got.Get("wdm_http_requests_total", "operation", "stock-find", "code", c.wantCode); n != 2 {
				t.Errorf("requests with code %s = %v, want 2; all: %v", c.wantCode, n, got)
			}
			if n := got.Get("wdm_http_request_duration_seconds_count", "operation", "stock-find"); n != 2 {
				t.Errorf("duration count = %v, want 2", n)
			}
		})
	}
}

// TestRequestsWrapUnwraps: handlers that flush through
// http.ResponseController still reach the connection's writer.
func TestRequestsWrapUnwraps(t *testing.T) {
	h := metrics.NewRequests(metrics.NewRegistry()).Wrap("op", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if err := http.NewResponseController(w).Flush(); err != nil {
			t.Errorf("flush: %v", err)
		}
	}))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	if !rec.Flushed {
		t.Error("not flushed")
	}
}

// TestRequestsWrapAllocations: the wrapper adds one allocation per request
// (the status recorder), whatever the code, once a code's series exists.
func TestRequestsWrapAllocations(t *testing.T) {
	h := metrics.NewRequests(metrics.NewRegistry()).Wrap("op", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusNotFound)
	}))
	w, r := discard{}, httptest.NewRequest("GET", "/", nil)
	h.ServeHTTP(w, r)
	if n := testing.AllocsPerRun(100, func() { h.ServeHTTP(w, r) }); n > 1 {
		t.Errorf("%v allocations per request, want at most 1", n)
	}
}

type discard struct{}

func (discard) Header() http.Header         { return http.Header{} }
func (discard) Write(b []byte) (int, error) { return len(b), nil }
func (discard) WriteHeader(int)             {}

func TestSagaDecided(t *testing.T) {
	reg := metrics.NewRegistry()
	m := metrics.NewSaga(reg)
	before := metricstest.Gather(t, reg)
	for _, o := range []string{"paid", "failed"} {
		if _, ok := before[metricstest.Key("wdm_saga_outcomes_total", "outcome", o)]; !ok {
			t.Errorf("outcome %s not exported before the first saga", o)
		}
	}
	m.Decided(metrics.OutcomePaid, 2*time.Second)
	m.Decided(metrics.OutcomePaid, time.Second)
	m.Decided(metrics.OutcomeFailed, -time.Second) // clock skew: counted as 0
	got := metricstest.Gather(t, reg)
	want := map[string]float64{
		metricstest.Key("wdm_saga_outcomes_total", "outcome", "paid"):   2,
		metricstest.Key("wdm_saga_outcomes_total", "outcome", "failed"): 1,
		"wdm_saga_duration_seconds_count":                               3,
		"wdm_saga_duration_seconds_sum":                                 3,
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %v, want %v", k, got[k], v)
		}
	}
	var none *metrics.Saga
	none.Decided(metrics.OutcomePaid, time.Second) // must not panic
}

func TestBrokerTrigger(t *testing.T) {
	reg := metrics.NewRegistry()
	m := metrics.NewBroker(reg)
	tr := m.Trigger("stock-reserve")
	m.IngressPublished()
	m.ReplyPublished()
	m.ReplyPublished()
	tr.Delivered(200)
	tr.Delivered(200)
	tr.Delivered(400)
	tr.Refused(400)
	tr.Retried()
	m.DeadLetterSent()
	got := metricstest.Gather(t, reg)
	want := map[string]float64{
		metricstest.Key("wdm_broker_published_total", "source", "ingress"):                       1,
		metricstest.Key("wdm_broker_published_total", "source", "reply"):                         2,
		metricstest.Key("wdm_broker_delivered_total", "trigger", "stock-reserve", "code", "200"): 2,
		metricstest.Key("wdm_broker_delivered_total", "trigger", "stock-reserve", "code", "400"): 1,
		metricstest.Key("wdm_broker_retries_total", "trigger", "stock-reserve"):                  1,
		metricstest.Key("wdm_broker_dead_letters_total", "trigger", "stock-reserve"):             0,
		metricstest.Key("wdm_broker_refused_total", "trigger", "stock-reserve", "code", "400"):   1,
		"wdm_broker_dead_letter_sink_delivered_total":                                            1,
	}
	for k, v := range want {
		if w, ok := got[k]; !ok || w != v {
			t.Errorf("%s = %v (exported %v), want %v", k, w, ok, v)
		}
	}
}

func TestStuckSagas(t *testing.T) {
	cases := []struct {
		name      string
		count     metrics.CountFunc
		wantStuck float64
		exported  bool
		wantError float64
	}{
		{"none", func(context.Context) (int, error) { return 0, nil }, 0, true, 0},
		{"some", func(context.Context) (int, error) { return 7, nil }, 7, true, 0},
		{"query fails", func(context.Context) (int, error) { return 0, errors.New("database down") }, 0, false, 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			reg := metrics.NewRegistry()
			metrics.NewStuckSagas(reg, 5*time.Second, c.count)
			got := metricstest.Gather(t, reg)
			key := metricstest.Key("wdm_saga_stuck", "older_than", "5s")
			if v, ok := got[key]; ok != c.exported || v != c.wantStuck {
				t.Errorf("%s = %v (exported %v), want %v (exported %v); all: %v", key, v, ok, c.wantStuck, c.exported, got)
			}
			if v := got["wdm_saga_stuck_scrape_error"]; v != c.wantError {
				t.Errorf("scrape error = %v, want %v", v, c.wantError)
			}
		})
	}
}

func TestDeadLettersStored(t *testing.T) {
	reg := metrics.NewRegistry()
	m := metrics.NewDeadLetters(reg)
	if got := metricstest.Gather(t, reg); got["wdm_dead_letters_stored_total"] != 0 {
		t.Fatalf("stored before any = %v", got["wdm_dead_letters_stored_total"])
	}
	m.Stored()
	m.Stored()
	if got := metricstest.Gather(t, reg); got["wdm_dead_letters_stored_total"] != 2 {
		t.Errorf("stored = %v, want 2", got["wdm_dead_letters_stored_total"])
	}
	var none *metrics.DeadLetters
	none.Stored() // must not panic
}
