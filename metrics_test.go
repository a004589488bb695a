package function

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/wdm-knative/webshop/internal/metrics/metricstest"
	"github.com/wdm-knative/webshop/local/testenv"
)

// TestRequestMetrics: every request an operation serves, HTTP or event, is
// counted under the operation's name and status code and timed, and GET
// /metrics on Handle's port shows it; what no operation serves is not counted.
func TestRequestMetrics(t *testing.T) {
	f, srv := started(t, Config{
		Function: "stock-item-create,stock-find,stock-subtract,stock-reserve",
		StockDSN: testenv.NewDatabase(t),
	})
	item := testenv.MustJSON(t, "POST", srv.URL+"/stock/item/create/5")["item_id"].(string)

	requests := []struct {
		name         string
		method, path string
		body         string // posted as a CloudEvent when set
		wantCode     int
	}{
		{"found", "GET", "/stock/find/" + item, "", 200},
		{"found again", "GET", "/stock/find/" + item, "", 200},
		{"not found", "GET", "/stock/find/nope", "", 404},
		{"refused", "POST", "/stock/subtract/" + item + "/1", "", 400},
		{"malformed event", "POST", "/events/stock-reserve", "{}", 400},
		{"no such route", "GET", "/stock/nope", "", 404},
		{"operation not selected", "POST", "/stock/add/" + item + "/1", "", 404},
	}
	for _, r := range requests {
		var code int
		if r.body != "" {
			code = postEvent(t, srv.URL+r.path, "x", "shop.checkout.requested", r.body, nil)
		} else {
			req, _ := http.NewRequest(r.method, srv.URL+r.path, nil)
			code = status(t, req)
		}
		if code != r.wantCode {
			t.Fatalf("%s: %s %s = %d, want %d", r.name, r.method, r.path, code, r.wantCode)
		}
	}

	// Scraped through Handle, as Prometheus scrapes port 8080.
	got := metricstest.Scrape(t, http.HandlerFunc(f.Handle))
	tests := []struct {
		name      string
		operation string
		code      string
		want      float64
	}{
		{"create", "stock-item-create", "200", 1},
		{"finds by code", "stock-find", "200", 2},
		{"a 404 of the operation", "stock-find", "404", 1},
		{"a refusal", "stock-subtract", "400", 1},
		{"an event operation", "stock-reserve", "400", 1},
		{"unrouted requests are nobody's", "stock-add", "404", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if n := got.Get("wdm_http_requests_total", "operation", tt.operation, "code", tt.code); n != tt.want {
				t.Errorf("requests{operation=%s,code=%s} = %v, want %v", tt.operation, tt.code, n, tt.want)
			}
		})
	}
	t.Run("latency by operation", func(t *testing.T) {
		for op, want := range map[string]float64{"stock-find": 3, "stock-reserve": 1, "stock-subtract": 1} {
			if n := got.Get("wdm_http_request_duration_seconds_count", "operation", op); n != want {
				t.Errorf("%s: %v durations, want %v", op, n, want)
			}
		}
	})
	t.Run("only the served operations and no paths", func(t *testing.T) {
		var total float64
		for k, v := range got {
			if strings.HasPrefix(k, "wdm_http_requests_total{") {
				total += v
			}
			if strings.Contains(k, "/") || strings.Contains(k, `operation="stock-add"`) {
				t.Errorf("unexpected series %s", k)
			}
			if strings.HasPrefix(k, "wdm_saga_") {
				t.Errorf("a stock function exports %s", k)
			}
		}
		if total != 6 {
			t.Errorf("%v requests counted, want the 6 that operations served", total)
		}
	})
	t.Run("text format on GET /metrics", func(t *testing.T) {
		resp, err := http.Get(srv.URL + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
			t.Errorf("GET /metrics = %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
		}
	})
}

// TestMetricsAfterRestart: a Function stopped and started again registers
// its series afresh instead of failing on duplicates.
func TestMetricsAfterRestart(t *testing.T) {
	f, srv := started(t, Config{Function: "stock-find", StockDSN: testenv.NewDatabase(t)})
	call(t, "GET", srv.URL+"/stock/find/nope")
	cfg := f.wiring.cfg
	if err := f.Stop(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := f.StartWith(t.Context(), cfg); err != nil {
		t.Fatalf("restart: %v", err)
	}
	rec := httptest.NewRecorder()
	f.Handle(rec, httptest.NewRequest("GET", "/stock/find/nope", nil))
	got := metricstest.Scrape(t, http.HandlerFunc(f.Handle))
	if n := got.Get("wdm_http_requests_total", "operation", "stock-find", "code", "404"); n != 1 {
		t.Errorf("after restart: %v requests, want 1 (counted since the restart)", n)
	}
}
