package soak

import (
	"math"
	"strings"
	"testing"

	"github.com/wdm-knative/webshop/local/testenv"
)

// ramp is n readings from a to b in equal steps.
func ramp(a, b float64, n int) []float64 {
	out := make([]float64, n)
	for i := range out {
		out[i] = a + (b-a)*float64(i)/float64(n-1)
	}
	return out
}

func repeat(x float64, n int) []float64 { return ramp(x, x, n) }

func TestJudge(t *testing.T) {
	nan := math.NaN()
	rule := Rule{Growth: 0.25, Slack: 10}
	tests := []struct {
		name       string
		values     []float64
		rule       Rule
		wantOK     bool
		wantReason string // substring, when not OK
	}{
		{"flat", repeat(100, 30), rule, true, ""},
		{"noise around a level", []float64{100, 140, 90, 120, 80, 130, 100, 95, 135, 85, 120, 110}, rule, true, ""},
		{"shrinking", ramp(400, 100, 30), rule, true, ""},
		{"steady growth", ramp(100, 300, 30), rule, false, "grew"},
		{"growth within the slack", ramp(0, 9, 30), rule, true, ""},
		{"growth just past the slack", ramp(0, 30, 30), rule, false, "grew"},
		// The warm-up (first 10 %) is left out of the trend: a heap that
		// grows to its working size, then holds.
		{"warm-up then flat", append([]float64{10, 50, 90}, repeat(200, 27)...), rule, true, ""},
		{"same rise after the warm-up", append(repeat(10, 3), append(repeat(50, 9), repeat(200, 18)...)...), rule, false, "grew"},
		{"under the ceiling", repeat(5, 30), Rule{Growth: 1, Ceiling: 5, Bounded: true}, true, ""},
		{"over the ceiling once", append(repeat(0, 20), append([]float64{1}, repeat(0, 9)...)...), Rule{Bounded: true}, false, "ceiling"},
		{"over the ceiling in the warm-up", append([]float64{3}, repeat(0, 29)...), Rule{Bounded: true}, false, "ceiling"},
		{"too few readings", repeat(1, 5), rule, false, "at least"},
		{"a failed reading is tolerated", append(repeat(100, 15), append([]float64{nan}, repeat(100, 14)...)...), rule, true, ""},
		{"many failed readings", append(repeat(100, 15), append(repeat(nan, 5), repeat(100, 10)...)...), rule, false, "readings failed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := Judge(Series{Name: "s", Values: tt.values, Rule: tt.rule})
			if v.OK != tt.wantOK {
				t.Fatalf("OK = %v (%s; first %.4g last %.4g allowed %.4g max %.4g), want %v",
					v.OK, v.Reason, v.FirstMean, v.LastMean, v.Allowed, v.Max, tt.wantOK)
			}
			if !tt.wantOK && !strings.Contains(v.Reason, tt.wantReason) {
				t.Errorf("reason %q, want it to say %q", v.Reason, tt.wantReason)
			}
		})
	}
}

// Flat turns samples into one verdict per watched quantity and fails the
// ones that misbehaved.
func TestFlat(t *testing.T) {
	targets := Targets{Metrics: map[string]string{"stock": "", "broker": ""}, Queues: []string{"q"}, DeadLetterQueue: "dlq"}
	steady := func(i int) Sample {
		return Sample{
			Processes: map[string]Process{
				"stock":  {RSSBytes: 30 << 20, Goroutines: 40, StartTime: 1000},
				"broker": {RSSBytes: 20 << 20, Goroutines: 60, StartTime: 1000},
			},
			PGConnections: map[string]int{"stock": 8, "order": 10},
			Queues:        map[string]int{"q": i % 3, "dlq": 0},
		}
	}
	tests := []struct {
		name    string
		change  func(i int, s *Sample)
		wantBad []string // the series that must fail; every other must pass
	}{
		{"steady", nil, nil},
		{"goroutine leak", func(i int, s *Sample) {
			p := s.Processes["stock"]
			p.Goroutines += float64(10 * i)
			s.Processes["stock"] = p
		}, []string{"goroutines stock"}},
		{"memory leak", func(i int, s *Sample) {
			p := s.Processes["broker"]
			p.RSSBytes += float64(i) * (2 << 20)
			s.Processes["broker"] = p
		}, []string{"rss broker"}},
		{"restart", func(i int, s *Sample) {
			if i >= 20 {
				p := s.Processes["stock"]
				p.StartTime = 2000
				s.Processes["stock"] = p
			}
		}, []string{"restarts stock"}},
		{"connection leak", func(i int, s *Sample) { s.PGConnections["order"] += i }, []string{"pg connections order", "pg connections (all)"}},
		{"connections over max_connections", func(i int, s *Sample) {
			if i == 5 { // in the first third: no growth, only the ceiling
				s.PGConnections["order"] = 100
			}
		}, []string{"pg connections (all)"}},
		{"backlog", func(i int, s *Sample) { s.Queues["q"] = 50 * i }, []string{"queue q"}},
		{"a dead letter", func(i int, s *Sample) {
			if i >= 28 {
				s.Queues["dlq"] = 1
			}
		}, []string{"dead letters dlq"}},
		{"broker not answering", func(i int, s *Sample) {
			if i%2 == 0 {
				delete(s.Processes, "broker")
			}
		}, []string{"rss broker", "goroutines broker"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var samples []Sample
			for i := range 30 {
				s := steady(i)
				if tt.change != nil {
					tt.change(i, &s)
				}
				samples = append(samples, s)
			}
			verdicts := Flat(samples, targets, 50)
			if len(verdicts) != 2*3+3+2 { // per process 3, 2 databases + all, queue, dead letters
				t.Errorf("%d verdicts, want 11: %+v", len(verdicts), verdicts)
			}
			bad := map[string]bool{}
			for _, name := range tt.wantBad {
				bad[name] = true
			}
			for _, v := range verdicts {
				if v.OK == bad[v.Series] {
					t.Errorf("%s: OK = %v (%s), want %v", v.Series, v.OK, v.Reason, !bad[v.Series])
				}
				delete(bad, v.Series)
			}
			for name := range bad {
				t.Errorf("no verdict for %s", name)
			}
		})
	}
}

func TestParseMetrics(t *testing.T) {
	parse := func(text string) (Process, error) { return parseMetrics(strings.NewReader(text)) }
	testenv.CheckParse(t, parse, nil, nil, []testenv.ParseCase[Process]{
		{Name: "all three among others", In: "# HELP go_goroutines x\n# TYPE go_goroutines gauge\ngo_goroutines 42\n" +
			"go_gc_duration_seconds{quantile=\"0\"} 1e-05\nprocess_resident_memory_bytes 2.5e+07\nprocess_start_time_seconds 1.7e+09\n",
			Want: Process{Goroutines: 42, RSSBytes: 2.5e7, StartTime: 1.7e9}},
		{Name: "a series missing", In: "go_goroutines 42\nprocess_start_time_seconds 1\n", WantErr: true},
		{Name: "not a number", In: "go_goroutines many\nprocess_resident_memory_bytes 1\nprocess_start_time_seconds 1\n", WantErr: true},
		{Name: "a longer name is another series", In: "go_goroutines_total 1\nprocess_resident_memory_bytes 1\nprocess_start_time_seconds 1\n", WantErr: true},
	})
}
