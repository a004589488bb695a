package knative

import (
	"regexp"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// metrics are the Prometheus series the functions and the broker export.
var metrics = map[string]bool{
	"wdm_http_requests_total":           false,
	"wdm_http_request_duration_seconds": true, // histogram
	"wdm_saga_outcomes_total":           false,
	"wdm_saga_duration_seconds":         true,
	"wdm_broker_published_total":        false,
	"wdm_broker_unrouted_total":         false,
	"wdm_broker_delivered_total":        false,
	"wdm_broker_retries_total":          false,
	"wdm_broker_dead_letters_total":     false,
	"wdm_broker_refused_total":          false,
	"wdm_saga_stuck":                    false,
	"wdm_dead_letters_stored_total":     false,
}

// grafanaDashboard is the part of a Grafana dashboard the checks read.
type grafanaDashboard struct {
	UID    string `json:"uid"`
	Title  string `json:"title"`
	Panels []struct {
		Title   string             `json:"title"`
		Type    string             `json:"type"`
		GridPos struct{ X, Y int } `json:"gridPos"`
		Targets []struct {
			Expr string `json:"expr"`
		} `json:"targets"`
	} `json:"panels"`
}

func readDashboard(t *testing.T, path string) grafanaDashboard {
	t.Helper()
	return readFile[grafanaDashboard](t, path, yaml.Unmarshal)
}

// TestGrafanaDashboardQueriesKnownMetrics: a panel over a misspelt series is
// silently empty, and a metric no panel shows is easy to forget.
func TestGrafanaDashboardQueriesKnownMetrics(t *testing.T) {
	dash := readDashboard(t, "observability/grafana-dashboard.json")
	if dash.UID == "" || dash.Title == "" {
		t.Errorf("dashboard needs a uid and a title")
	}
	series := regexp.MustCompile(`\bwdm_[a-z_]+`)
	used := map[string]bool{}
	for _, p := range dash.Panels {
		if p.Type != "row" && len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, target := range p.Targets {
			for _, s := range series.FindAllString(target.Expr, -1) {
				name := s
				for _, suffix := range []string{"_bucket", "_sum", "_count"} {
					if base, ok := strings.CutSuffix(s, suffix); ok && metrics[base] {
						name = base
					}
				}
				if _, ok := metrics[name]; !ok {
					t.Errorf("panel %q queries unknown series %s", p.Title, s)
				}
				used[name] = true
			}
		}
	}
	for name := range metrics {
		if !used[name] {
			t.Errorf("no panel shows %s", name)
		}
	}
}
