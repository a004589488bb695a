package loadtest

import (
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/wdm-knative/webshop/internal/shopclient"
	"github.com/wdm-knative/webshop/local/testenv"
)

func TestEndpoint(t *testing.T) {
	tests := []struct {
		name, method, path, want string
	}{
		{"checkout", "POST", "/orders/checkout/3f2a-uuid", "POST /orders/checkout/{order_id}"},
		{"batch id", "POST", "/orders/checkout/99999", "POST /orders/checkout/{order_id}"},
		{"add item 2024 form", "POST", "/orders/addItem/o1/i1/2", "POST /orders/addItem/{order_id}/{item_id}/{quantity}"},
		{"add item 2023 form", "POST", "/orders/addItem/o1/i1", "POST /orders/addItem/{order_id}/{item_id}"},
		{"remove item by DELETE", "DELETE", "/orders/removeItem/o1/i1", "DELETE /orders/removeItem/{order_id}/{item_id}"},
		{"create order", "POST", "/orders/create/u1", "POST /orders/create/{user_id}"},
		{"find item", "GET", "/stock/find/17", "GET /stock/find/{item_id}"},
		{"create item", "POST", "/stock/item/create/7", "POST /stock/item/create/{price}"},
		{"add stock", "POST", "/stock/add/i/500", "POST /stock/add/{item_id}/{amount}"},
		{"create user", "POST", "/payment/create_user", "POST /payment/create_user"},
		{"add funds", "POST", "/payment/add_funds/u/100", "POST /payment/add_funds/{user_id}/{amount}"},
		{"pay 2023 form", "POST", "/payment/pay/u/o/5", "POST /payment/pay/{user_id}/{order_id}/{amount}"},
		{"batch init", "POST", "/orders/batch_init/100000/100000/100000/1", "POST /orders/batch_init/{n}/{n_items}/{n_users}/{item_price}"},
		{"unknown path keeps its first segment", "GET", "/nope/a/b/c", "GET /nope/…"},
		{"wrong method is not the route", "GET", "/orders/checkout/1", "GET /orders/…"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Endpoint(tt.method, tt.path); got != tt.want {
				t.Errorf("Endpoint(%s, %s) = %q, want %q", tt.method, tt.path, got, tt.want)
			}
		})
	}
}

// The mixed workload picks the 2023 locustfile's scenarios with its weights.
func TestMixedWeights(t *testing.T) {
	want := map[string]int{
		"admin_creates_item": 5, "one_item_checkout": 30, "two_item_checkout": 25,
		"add_remove_add_checkout": 20, "must_fail_stock": 10, "must_fail_credit": 10,
	}
	total := totalWeight(MixedScenarios)
	if total != 100 {
		t.Fatalf("weights add up to %d, want 100", total)
	}
	got := map[string]int{}
	for x := range total {
		got[MixedScenarios[pickScenario(MixedScenarios, x)].Name]++
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("picks per scenario over every x (-want +got):\n%s", diff)
	}
	tests := []struct {
		name string
		x    int
		want string
	}{
		{"first value", 0, "admin_creates_item"},
		{"last of the first", 4, "admin_creates_item"},
		{"first of the second", 5, "one_item_checkout"},
		{"last value", 99, "must_fail_credit"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := MixedScenarios[pickScenario(MixedScenarios, tt.x)].Name; got != tt.want {
				t.Errorf("pickScenario(%d) = %s, want %s", tt.x, got, tt.want)
			}
		})
	}
}

func TestClassify(t *testing.T) {
	status := func(code int) error { return &shopclient.StatusError{Status: code} }
	unavailable := fmt.Errorf("%w: boom", shopclient.ErrUnavailable)
	tests := []struct {
		name     string
		code     int
		err      error
		mustFail bool
		want     Outcome
	}{
		{"200", 200, nil, false, OK},
		{"200 on must-fail", 200, nil, true, Unexpected2xx},
		{"400", 400, status(400), false, Unexpected4xx},
		{"404", 404, status(404), false, Unexpected4xx},
		{"400 on must-fail", 400, status(400), true, Expected4xx},
		{"redirect", 302, status(302), false, Unexpected4xx},
		{"503", 503, unavailable, false, Server5xx},
		{"503 on must-fail", 503, unavailable, true, Server5xx},
		{"no answer", 0, unavailable, false, Network},
		{"body that does not decode", 200, errors.New("decoding"), false, InvalidAnswer},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := classify(tt.code, tt.err, tt.mustFail); got != tt.want {
				t.Errorf("classify(%d, %v, %v) = %s, want %s", tt.code, tt.err, tt.mustFail, got, tt.want)
			}
		})
	}
}

func TestOrderBook(t *testing.T) {
	type answer struct {
		code int
		o    Outcome
	}
	tests := []struct {
		name          string
		answers       []answer
		wantCode      int // 0: no definitive answer
		wantUnsettled bool
	}{
		{"paid", []answer{{200, OK}}, 200, false},
		{"refused", []answer{{400, Unexpected4xx}}, 400, false},
		{"must-fail refused", []answer{{400, Expected4xx}}, 400, false},
		{"paid sticks over a later refusal", []answer{{200, OK}, {400, Unexpected4xx}}, 200, false},
		{"paid after a refusal", []answer{{400, Unexpected4xx}, {200, OK}}, 200, false},
		{"5xx leaves it unsettled", []answer{{503, Server5xx}}, 0, true},
		{"no answer leaves it unsettled", []answer{{0, Network}}, 0, true},
		{"unsettled stays so after an answer", []answer{{0, Network}, {200, OK}}, 200, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := newOrderBook()
			for _, a := range tt.answers {
				b.checkedOut("o", a.code, a.o)
			}
			if got := b.answers["o"]; got != tt.wantCode {
				t.Errorf("answer = %d, want %d", got, tt.wantCode)
			}
			if got := b.unsettled["o"]; got != tt.wantUnsettled {
				t.Errorf("unsettled = %v, want %v", got, tt.wantUnsettled)
			}
		})
	}
}

// A recorder fed known answers yields a summary whose JSON holds the
// figures under stable names (other tools read summary.json).
func TestSummaryJSON(t *testing.T) {
	start := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	rec := NewRecorder(start, 2*time.Second)
	at := func(sec float64) time.Time { return start.Add(time.Duration(sec * float64(time.Second))) }
	for i := range 100 { // second 1: 100 checkouts of 1..100 ms
		rec.Record(checkoutEndpoint, at(0.5), time.Duration(i+1)*time.Millisecond, OK, "")
	}
	rec.Record("POST /orders/create/{user_id}", at(1.5), 4*time.Millisecond, OK, "")
	rec.Record(checkoutEndpoint, at(1.5), 10*time.Millisecond, Expected4xx, "")
	rec.Record(checkoutEndpoint, at(1.6), 20*time.Millisecond, Server5xx, "503 busy")
	rec.Record("POST /orders/create/{user_id}", at(1.7), 30*time.Millisecond, Network, "refused")
	rec.Record("POST /orders/create/{user_id}", at(2.1), 5*time.Millisecond, OK, "") // in flight at the end

	s := &Summary{Workload: Flow, Clients: 2, Gateway: "http://x", DurationS: 2, Audit: AuditSummary{Consistent: true}}
	s.Totals, s.Endpoints, s.Timeline, s.Failures = rec.summarize(2 * time.Second)
	s.verdict()
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		path string // dot-separated keys, numbers index arrays
		want any
	}{
		{"requests", "requests", 105.0},
		{"requests per second over the duration", "requests_per_s", 52.5},
		{"checkouts count 200s only", "checkouts", 100.0},
		{"checkouts per second", "checkouts_per_s", 50.0},
		{"overall max", "latency.max_ms", 100.0},
		{"endpoints sorted by name: checkout first", "endpoints.0.endpoint", checkoutEndpoint},
		{"checkout requests", "endpoints.0.requests", 102.0},
		// 102 values (1..100 ms, 10 ms, 20 ms): the 51st is 49 ms and the
		// 101st 99 ms, reported as their buckets' upper bounds (256 µs wide
		// there).
		{"checkout p50", "endpoints.0.latency.p50_ms", 49.151},
		{"checkout p99", "endpoints.0.latency.p99_ms", 99.327},
		{"checkout expected 4xx", "endpoints.0.failures.expected_4xx", 1.0},
		{"checkout 5xx", "endpoints.0.failures.server_5xx", 1.0},
		{"create network errors", "endpoints.1.failures.network", 1.0},
		{"failures expected 4xx", "failures.expected_4xx", 1.0},
		{"failures 5xx", "failures.server_5xx", 1.0},
		{"failures network", "failures.network", 1.0},
		{"failure samples name the endpoint", "failures.samples.0", checkoutEndpoint + ": server_5xx: 503 busy"},
		{"first second", "timeline.0.requests", 100.0},
		{"first second's checkouts", "timeline.0.checkouts", 100.0},
		{"second second's failures", "timeline.1.failures", 2.0},
		{"an answer after the end counts in the last second", "timeline.1.requests", 5.0},
		{"two seconds", "timeline.#", 2.0},
		{"not passed", "passed", false},
		{"reason", "reasons.0", "2 unexpected failures (4xx 0, 2xx on must-fail 0, 5xx 1, network 1, invalid answers 0)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if v := lookup(t, got, tt.path); !cmp.Equal(v, tt.want) {
				t.Errorf("%s = %#v, want %#v", tt.path, v, tt.want)
			}
		})
	}
}

// lookup walks decoded JSON along a path like "endpoints.0.latency.p99_ms";
// "#" is an array's length.
func lookup(t *testing.T, v any, path string) any {
	t.Helper()
	for _, key := range strings.Split(path, ".") {
		switch x := v.(type) {
		case map[string]any:
			var ok bool
			if v, ok = x[key]; !ok {
				t.Fatalf("%s: no key %q", path, key)
			}
		case []any:
			if key == "#" {
				return float64(len(x))
			}
			var i int
			if _, err := fmt.Sscan(key, &i); err != nil || i >= len(x) {
				t.Fatalf("%s: no element %q", path, key)
			}
			v = x[i]
		default:
			t.Fatalf("%s: %q of a %T", path, key, v)
		}
	}
	return v
}

func TestVerdict(t *testing.T) {
	tests := []struct {
		name       string
		summary    Summary
		wantPassed bool
	}{
		{"clean", Summary{Totals: Totals{Requests: 10}, Audit: AuditSummary{Consistent: true}}, true},
		{"expected 4xx only", Summary{Totals: Totals{Requests: 10}, Failures: Failures{Expected4xx: 3}, Audit: AuditSummary{Consistent: true}}, true},
		{"one unexpected 4xx", Summary{Totals: Totals{Requests: 10}, Failures: Failures{Unexpected4xx: 1}, Audit: AuditSummary{Consistent: true}}, false},
		{"must-fail succeeded", Summary{Totals: Totals{Requests: 10}, Failures: Failures{Unexpected2xx: 1}, Audit: AuditSummary{Consistent: true}}, false},
		{"inconsistent", Summary{Totals: Totals{Requests: 10}, Audit: AuditSummary{Problems: []string{"x"}}}, false},
		{"nothing answered", Summary{Audit: AuditSummary{Consistent: true}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := tt.summary
			s.verdict()
			if s.Passed != tt.wantPassed {
				t.Errorf("Passed = %v (%v), want %v", s.Passed, s.Reasons, tt.wantPassed)
			}
			if !s.Passed && len(s.Reasons) == 0 {
				t.Error("failed without a reason")
			}
		})
	}
}

func TestChart(t *testing.T) {
	tests := []struct {
		name      string
		timeline  []SecondSummary
		wantLines int // series drawn, each named in the legend
	}{
		{"empty run", nil, 0},
		{"without checkouts", []SecondSummary{{Second: 1, Requests: 10, P50Ms: 1, P99Ms: 2}}, 3},
		{"with checkouts", []SecondSummary{
			{Second: 1, Requests: 100, Checkouts: 30, P50Ms: 3, P99Ms: 20, CheckoutP99Ms: 25},
			{Second: 2, Requests: 120, Checkouts: 40, P50Ms: 2.5, P99Ms: 18, CheckoutP99Ms: 22},
		}, 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			svg, err := Chart(&Summary{Workload: Flow, Clients: 4, Timeline: tt.timeline})
			if err != nil {
				t.Fatal(err)
			}
			lines := legendEntries(t, svg, "requests/s", "checkouts/s", "p50 all", "p99 all", "p99 checkout")
			if lines != tt.wantLines {
				t.Errorf("%d series drawn, want %d\n%s", lines, tt.wantLines, svg)
			}
		})
	}
}

// legendEntries counts the texts of a well-formed SVG that are one of names.
func legendEntries(t *testing.T, svg []byte, names ...string) int {
	t.Helper()
	d := xml.NewDecoder(strings.NewReader(string(svg)))
	lines, inText := 0, false
	for {
		tok, err := d.Token()
		if err == io.EOF {
			return lines
		}
		if err != nil {
			t.Fatalf("not well-formed XML: %v\n%s", err, svg)
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			inText = tok.Name.Local == "text"
		case xml.EndElement:
			inText = false
		case xml.CharData:
			if inText && slices.Contains(names, strings.TrimSpace(string(tok))) {
				lines++
			}
		}
	}
}

func TestScalingChart(t *testing.T) {
	tests := []struct {
		name      string
		pods      []ServicePods
		wantLines int // requests/s, users and one a Service
	}{
		{"no Service", nil, 2},
		{"two Services", []ServicePods{{"order-checkout", []float64{0, 1, 3, 1}}, {"saga-step", []float64{0, 1, 2, 0}}}, 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			svg, err := ScalingChart(Scaling{Title: "t", Requests: []float64{5, 20, 30, 10}, Users: []float64{1, 4, 8, 8},
				LoadStart: 5, PodEvery: 5, Pods: tt.pods})
			if err != nil {
				t.Fatal(err)
			}
			if got := legendEntries(t, svg, "requests/s", "users", "order-checkout", "saga-step"); got != tt.wantLines {
				t.Errorf("%d series drawn, want %d\n%s", got, tt.wantLines, svg)
			}
		})
	}
}

func TestNiceTicks(t *testing.T) {
	tests := []struct {
		top  float64
		want []float64
	}{
		{0, []float64{0, 1}},
		{1, []float64{0, 0.2, 0.4, 0.6000000000000001, 0.8, 1}},
		{20, []float64{0, 5, 10, 15, 20}},
		{1834, []float64{0, 500, 1000, 1500, 2000}},
		{95.3, []float64{0, 20, 40, 60, 80, 100}},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.top), func(t *testing.T) {
			got := niceTicks(tt.top)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("niceTicks(%v) (-want +got):\n%s", tt.top, diff)
			}
		})
	}
}

func TestParseCPULine(t *testing.T) {
	near := func(got, want float64) bool { return math.Abs(got-want) <= 1e-9 }
	testenv.CheckParse(t, parseCPULine, near, nil, []testenv.ParseCase[float64]{
		{Name: "busy excludes idle and iowait", In: "cpu  100 20 30 5000 70 1 2 3 0 0", Want: 1.56},
		{Name: "guest fields are not added twice", In: "cpu  100 0 0 0 0 0 0 0 400 400", Want: 1.00},
		{Name: "a per-core line is refused", In: "cpu0 1 2 3 4 5 6 7 8", WantErr: true},
		{Name: "junk is refused", In: "cpu  1 x 3 4 5 6 7 8", WantErr: true},
		{Name: "too short", In: "cpu 1 2", WantErr: true},
	})
}

func TestFreshOrderPicksEachOrderOnce(t *testing.T) {
	for _, n := range []int{1, 7, 10_000, 1_000_003, 2_000_006} {
		seen := make(map[int]bool, n)
		limit := min(n, 50_000)
		for i := range int64(limit) {
			id := freshOrder(i, n)
			if id < 0 || id >= n {
				t.Fatalf("n=%d: pick %d is %d, outside 0..%d", n, i, id, n-1)
			}
			if seen[id] {
				t.Fatalf("n=%d: order %d picked twice within the first %d picks", n, id, limit)
			}
			seen[id] = true
		}
	}
}
