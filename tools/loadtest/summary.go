package loadtest

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
)

// Summary is every figure of a run; it is written as summary.json.
type Summary struct {
	Workload  string  `json:"workload"`
	Clients   int     `json:"clients"`
	Rate      float64 `json:"rate,omitempty"` // rounds per second asked for; 0: closed loop
	Gateway   string  `json:"gateway"`
	Started   string  `json:"started"`    // RFC 3339, when the measured phase began
	SetupS    float64 `json:"setup_s"`    // the setup phase, not measured
	DurationS float64 `json:"duration_s"` // the measured phase, until the last client stopped
	// ClientCPUS is the CPU time the load client itself used in the measured
	// phase (it shares the cores with the shop).
	ClientCPUS float64 `json:"client_cpu_s"`
	// MachineCPUS is the busy CPU time of the whole machine (every core) in
	// the measured phase, and CPUMsPerCheckout that divided by the
	// checkouts answered 200: the cost of a checkout with everything it
	// drags along (the workload's other requests, broker, databases).
	MachineCPUS      float64 `json:"machine_cpu_s"`
	CPUMsPerCheckout float64 `json:"cpu_ms_per_checkout"`
	Totals
	Endpoints []EndpointSummary         `json:"endpoints"`
	Failures  Failures                  `json:"failures"`
	Scenarios map[string]ScenarioCounts `json:"scenarios,omitempty"`
	// SettledOrders are orders whose checkout had no definitive answer during
	// the run, checked out again after it so that the audit sees no saga
	// half-way.
	SettledOrders int             `json:"settled_orders"`
	Audit         AuditSummary    `json:"audit"`
	Timeline      []SecondSummary `json:"timeline"`
	// Passed is false when a request failed unexpectedly or the audit found
	// a problem; Reasons says which.
	Passed  bool     `json:"passed"`
	Reasons []string `json:"reasons,omitempty"`
}

// Totals are the figures over all endpoints.
type Totals struct {
	Requests      uint64  `json:"requests"`
	RequestsPerS  float64 `json:"requests_per_s"`
	Checkouts     uint64  `json:"checkouts"` // checkout answers 200
	CheckoutsPerS float64 `json:"checkouts_per_s"`
	Latency       Latency `json:"latency"`
}

// Latency is a distribution's summary in milliseconds.
type Latency struct {
	P50Ms  float64 `json:"p50_ms"`
	P95Ms  float64 `json:"p95_ms"`
	P99Ms  float64 `json:"p99_ms"`
	MaxMs  float64 `json:"max_ms"`
	MeanMs float64 `json:"mean_ms"`
}

// EndpointSummary is one route's figures.
type EndpointSummary struct {
	Endpoint string   `json:"endpoint"`
	Requests uint64   `json:"requests"`
	PerS     float64  `json:"per_s"`
	Latency  Latency  `json:"latency"`
	Failures Failures `json:"failures"`
}

// Failures counts answers that were not plain successes, by kind.
type Failures struct {
	Expected4xx   uint64   `json:"expected_4xx"`   // must-fail checkouts that failed: not failures
	Unexpected4xx uint64   `json:"unexpected_4xx"` // the rest count against the shop
	Unexpected2xx uint64   `json:"unexpected_2xx"`
	Server5xx     uint64   `json:"server_5xx"`
	Network       uint64   `json:"network"`
	InvalidAnswer uint64   `json:"invalid_answer"`
	Samples       []string `json:"samples,omitempty"` // the first few failures' messages
}

// Unexpected is how many answers count against the shop.
func (f Failures) Unexpected() uint64 {
	return f.Unexpected4xx + f.Unexpected2xx + f.Server5xx + f.Network + f.InvalidAnswer
}

// SecondSummary is one second of the measured phase.
type SecondSummary struct {
	Second        int     `json:"second"` // 1 = the first second
	Requests      uint64  `json:"requests"`
	Checkouts     uint64  `json:"checkouts"`
	Failures      uint64  `json:"failures"`
	P50Ms         float64 `json:"p50_ms"`
	P99Ms         float64 `json:"p99_ms"`
	CheckoutP50Ms float64 `json:"checkout_p50_ms"`
	CheckoutP99Ms float64 `json:"checkout_p99_ms"`
}

// ScenarioCounts says how often a scenario of the mixed workload started and
// how often it ran to its end.
type ScenarioCounts struct {
	Weight    int    `json:"weight"`
	Started   uint64 `json:"started"`
	Completed uint64 `json:"completed"`
}

// AuditSummary is the consistency check after the run.
type AuditSummary struct {
	// Method says how the state was read: "run-audit" (every item, user
	// and order the run made) or "touched" (the orders checked out, their
	// items and users, and a random sample of all items and users).
	Method          string   `json:"method"`
	StockValueTaken int64    `json:"stock_value_taken"`
	CreditTaken     int64    `json:"credit_taken"`
	PaidTotal       int64    `json:"paid_total"`
	PaidOrders      int      `json:"paid_orders"`
	OrdersRead      int      `json:"orders_read"`
	ItemsRead       int      `json:"items_read"`
	UsersRead       int      `json:"users_read"`
	DurationS       float64  `json:"duration_s"`
	Consistent      bool     `json:"consistent"`
	Problems        []string `json:"problems,omitempty"`
}

// verdict sets Passed and Reasons from the failures and the audit.
func (s *Summary) verdict() {
	s.Reasons = nil
	if n := s.Failures.Unexpected(); n > 0 {
		f := s.Failures
		s.Reasons = append(s.Reasons, fmt.Sprintf("%d unexpected failures (4xx %d, 2xx on must-fail %d, 5xx %d, network %d, invalid answers %d)",
			n, f.Unexpected4xx, f.Unexpected2xx, f.Server5xx, f.Network, f.InvalidAnswer))
	}
	if !s.Audit.Consistent {
		s.Reasons = append(s.Reasons, fmt.Sprintf("audit found %d problems", len(s.Audit.Problems)))
	}
	if s.Requests == 0 {
		s.Reasons = append(s.Reasons, "no request was answered")
	}
	s.Passed = len(s.Reasons) == 0
}

// WriteFiles writes summary.json and chart.svg into dir, creating it.
func (s *Summary) WriteFiles(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "summary.json"), append(b, '\n'), 0o644); err != nil {
		return err
	}
	chart, err := Chart(s)
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "chart.svg"), chart, 0o644)
}

// Report prints the summary for a person.
func (s *Summary) Report(w io.Writer) {
	pacing := "closed loop"
	if s.Rate > 0 {
		pacing = fmt.Sprintf("paced at %.1f rounds/s", s.Rate)
	}
	fmt.Fprintf(w, "\n%s workload, %d clients (%s), %.1f s measured (setup %.1f s) against %s\n",
		s.Workload, s.Clients, pacing, s.DurationS, s.SetupS, s.Gateway)
	fmt.Fprintf(w, "requests: %d (%.0f/s)   checkouts: %d (%.0f/s)   latency p50 %.1f p95 %.1f p99 %.1f max %.1f ms\n",
		s.Requests, s.RequestsPerS, s.Checkouts, s.CheckoutsPerS, s.Latency.P50Ms, s.Latency.P95Ms, s.Latency.P99Ms, s.Latency.MaxMs)
	fmt.Fprintf(w, "load client CPU: %.1f s in %.1f s (%.0f %% of one core); whole machine: %.1f CPU-s busy, %.2f CPU-ms per checkout\n\n",
		s.ClientCPUS, s.DurationS, 100*s.ClientCPUS/max(s.DurationS, 1e-9), s.MachineCPUS, s.CPUMsPerCheckout)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "endpoint\trequests\treq/s\tp50 ms\tp95 ms\tp99 ms\tmax ms\texp-4xx\tfailures\t")
	for _, e := range s.Endpoints {
		fmt.Fprintf(tw, "%s\t%d\t%.1f\t%.1f\t%.1f\t%.1f\t%.1f\t%d\t%d\t\n", e.Endpoint, e.Requests, e.PerS,
			e.Latency.P50Ms, e.Latency.P95Ms, e.Latency.P99Ms, e.Latency.MaxMs, e.Failures.Expected4xx, e.Failures.Unexpected())
	}
	tw.Flush()
	f := s.Failures
	fmt.Fprintf(w, "\nfailures: expected-4xx %d (must-fail scenarios, not failures); unexpected-4xx %d, must-fail answered 2xx %d, 5xx %d, network %d, invalid answers %d\n",
		f.Expected4xx, f.Unexpected4xx, f.Unexpected2xx, f.Server5xx, f.Network, f.InvalidAnswer)
	for _, m := range f.Samples {
		fmt.Fprintf(w, "  %s\n", m)
	}
	if len(s.Scenarios) > 0 {
		fmt.Fprintf(w, "scenarios:")
		for _, name := range scenarioOrder(s.Scenarios) {
			c := s.Scenarios[name]
			fmt.Fprintf(w, " %s %d/%d", name, c.Completed, c.Started)
		}
		fmt.Fprintln(w, " (completed/started)")
	}
	a := s.Audit
	fmt.Fprintf(w, "audit (%s, %.1f s; read %d orders, %d items, %d users): stock value taken %d, credit taken %d, paid orders' total %d over %d paid orders",
		a.Method, a.DurationS, a.OrdersRead, a.ItemsRead, a.UsersRead, a.StockValueTaken, a.CreditTaken, a.PaidTotal, a.PaidOrders)
	if s.SettledOrders > 0 {
		fmt.Fprintf(w, " (%d orders without a definitive answer checked out again first)", s.SettledOrders)
	}
	fmt.Fprintln(w)
	if a.Consistent {
		fmt.Fprintln(w, "audit: consistent")
	}
	for i, p := range a.Problems {
		if i == 50 {
			fmt.Fprintf(w, "  ... %d more\n", len(a.Problems)-50)
			break
		}
		fmt.Fprintf(w, "  INCONSISTENT: %s\n", p)
	}
	if s.Passed {
		fmt.Fprintln(w, "PASS")
	} else {
		fmt.Fprintf(w, "FAIL: %s\n", strings.Join(s.Reasons, "; "))
	}
}

// scenarioOrder lists scenario names in the order of the mixed workload.
func scenarioOrder(m map[string]ScenarioCounts) []string {
	var out []string
	for _, sc := range MixedScenarios {
		if _, ok := m[sc.Name]; ok {
			out = append(out, sc.Name)
		}
	}
	return out
}
