package loadtest

import (
	"fmt"
	"sort"
	"sync"
	"time"
)

// Outcome classifies one answer.
type Outcome int

// The outcomes of a request. Only OK and Expected4xx are not failures.
const (
	OK            Outcome = iota
	Expected4xx           // a must-fail checkout that failed, as it should
	Unexpected4xx         // a 4xx where success was expected
	Unexpected2xx         // a must-fail checkout that succeeded
	Server5xx             // the shop could not answer
	Network               // no answer at all (connection refused, reset, timeout)
	InvalidAnswer         // a 2xx whose body is not what the API promises
	numOutcomes
)

var outcomeNames = [numOutcomes]string{"ok", "expected_4xx", "unexpected_4xx", "unexpected_2xx", "server_5xx", "network", "invalid_answer"}

func (o Outcome) String() string { return outcomeNames[o] }

// Failure reports whether the outcome counts against the shop.
func (o Outcome) Failure() bool { return o != OK && o != Expected4xx }

// checkoutEndpoint is the route whose answers make the checkouts/s figure.
const checkoutEndpoint = "POST /orders/checkout/{order_id}"

// maxSamples bounds how many failure messages a run keeps.
const maxSamples = 20

// Recorder collects the answers of a run from every client at once.
type Recorder struct {
	mu        sync.Mutex
	start     time.Time
	lastSec   int // answers after the measured phase count in this second; -1: none
	endpoints map[string]*endpointStats
	all       *Histogram
	seconds   []*second
	outcomes  [numOutcomes]uint64
	samples   []string
}

type endpointStats struct {
	hist     *Histogram
	outcomes [numOutcomes]uint64
}

// second is what finished in one second of the run.
type second struct {
	requests  uint64
	checkouts uint64 // checkout answers 200
	failures  uint64
	hist      *Histogram
	checkout  *Histogram
}

// NewRecorder starts counting at start; answers are put in per-second
// buckets by how long after start they arrived. Answers to requests still
// in flight when the measured phase (duration; 0: open-ended) ends count in
// its last second, so that the timeline ends with no stub of a second.
func NewRecorder(start time.Time, duration time.Duration) *Recorder {
	last := -1
	if duration > 0 {
		last = int((duration - 1) / time.Second)
	}
	return &Recorder{start: start, lastSec: last, endpoints: map[string]*endpointStats{}, all: NewHistogram()}
}

// Record adds one answer: its endpoint, when it arrived, how long it took
// and what it was. detail describes a failure for the samples.
func (r *Recorder) Record(endpoint string, done time.Time, took time.Duration, o Outcome, detail string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	e := r.endpoints[endpoint]
	if e == nil {
		e = &endpointStats{hist: NewHistogram()}
		r.endpoints[endpoint] = e
	}
	e.hist.Record(took)
	e.outcomes[o]++
	r.all.Record(took)
	r.outcomes[o]++

	s := r.secondAt(done)
	s.requests++
	s.hist.Record(took)
	if endpoint == checkoutEndpoint {
		s.checkout.Record(took)
		if o == OK || o == Unexpected2xx {
			s.checkouts++
		}
	}
	if o.Failure() {
		s.failures++
		if len(r.samples) < maxSamples {
			r.samples = append(r.samples, fmt.Sprintf("%s: %s: %s", endpoint, o, detail))
		}
	}
}

func (r *Recorder) secondAt(t time.Time) *second {
	i := max(int(t.Sub(r.start)/time.Second), 0)
	if r.lastSec >= 0 {
		i = min(i, r.lastSec)
	}
	for len(r.seconds) <= i {
		// Sparse: a long run keeps one per second, most of whose buckets stay empty.
		r.seconds = append(r.seconds, &second{hist: NewSparseHistogram(), checkout: NewSparseHistogram()})
	}
	return r.seconds[i]
}

// Progress is the state of a run so far, for the line printed each second.
type Progress struct {
	Elapsed      time.Duration
	Requests     uint64
	Checkouts    uint64
	P99          time.Duration // all requests since the start
	CheckoutP99  time.Duration
	Failures     uint64 // counting against the shop
	Expected4xx  uint64
	outcomes     [numOutcomes]uint64
	checkoutHist bool
}

// Progress reads the totals at now.
func (r *Recorder) Progress(now time.Time) Progress {
	r.mu.Lock()
	defer r.mu.Unlock()
	p := Progress{Elapsed: now.Sub(r.start), Requests: r.all.Count(), P99: r.all.Quantile(0.99), outcomes: r.outcomes}
	for _, s := range r.seconds {
		p.Checkouts += s.checkouts
	}
	if e := r.endpoints[checkoutEndpoint]; e != nil {
		p.CheckoutP99, p.checkoutHist = e.hist.Quantile(0.99), true
	}
	for o := range numOutcomes {
		if o.Failure() {
			p.Failures += r.outcomes[o]
		}
	}
	p.Expected4xx = r.outcomes[Expected4xx]
	return p
}

// Line is the progress line: rates since the previous progress prev.
func (p Progress) Line(prev Progress) string {
	dt := (p.Elapsed - prev.Elapsed).Seconds()
	if dt <= 0 {
		dt = 1
	}
	line := fmt.Sprintf("%6.1fs %7.0f req/s %6.0f checkouts/s  p99 %s",
		p.Elapsed.Seconds(), float64(p.Requests-prev.Requests)/dt, float64(p.Checkouts-prev.Checkouts)/dt, ms(p.P99))
	if p.checkoutHist {
		line += fmt.Sprintf(" (checkout %s)", ms(p.CheckoutP99))
	}
	line += fmt.Sprintf("  failures %d", p.Failures)
	if p.Failures > 0 {
		line += fmt.Sprintf(" (4xx %d, 2xx %d, 5xx %d, net %d, invalid %d)", p.outcomes[Unexpected4xx],
			p.outcomes[Unexpected2xx], p.outcomes[Server5xx], p.outcomes[Network], p.outcomes[InvalidAnswer])
	}
	if p.Expected4xx > 0 {
		line += fmt.Sprintf("  expected-4xx %d", p.Expected4xx)
	}
	return line
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1fms", float64(d)/float64(time.Millisecond)) }

// summarize turns the counts into the figures of the summary, rates over
// elapsed.
func (r *Recorder) summarize(elapsed time.Duration) (Totals, []EndpointSummary, []SecondSummary, Failures) {
	r.mu.Lock()
	defer r.mu.Unlock()
	secs := elapsed.Seconds()
	if secs <= 0 {
		secs = 1
	}
	var t Totals
	t.Requests = r.all.Count()
	t.RequestsPerS = float64(t.Requests) / secs
	t.Latency = latencyOf(r.all)
	for _, s := range r.seconds {
		t.Checkouts += s.checkouts
	}
	t.CheckoutsPerS = float64(t.Checkouts) / secs

	var eps []EndpointSummary
	for name, e := range r.endpoints {
		es := EndpointSummary{Endpoint: name, Requests: e.hist.Count(), PerS: float64(e.hist.Count()) / secs,
			Latency: latencyOf(e.hist), Failures: failuresOf(e.outcomes)}
		eps = append(eps, es)
	}
	sort.Slice(eps, func(i, j int) bool { return eps[i].Endpoint < eps[j].Endpoint })

	timeline := make([]SecondSummary, len(r.seconds))
	for i, s := range r.seconds {
		timeline[i] = SecondSummary{
			Second: i + 1, Requests: s.requests, Checkouts: s.checkouts, Failures: s.failures,
			P50Ms: msf(s.hist.Quantile(0.5)), P99Ms: msf(s.hist.Quantile(0.99)),
			CheckoutP50Ms: msf(s.checkout.Quantile(0.5)), CheckoutP99Ms: msf(s.checkout.Quantile(0.99)),
		}
	}
	f := failuresOf(r.outcomes)
	f.Samples = append([]string(nil), r.samples...)
	return t, eps, timeline, f
}

func latencyOf(h *Histogram) Latency {
	return Latency{P50Ms: msf(h.Quantile(0.5)), P95Ms: msf(h.Quantile(0.95)), P99Ms: msf(h.Quantile(0.99)),
		MaxMs: msf(h.Max()), MeanMs: msf(h.Mean())}
}

func failuresOf(o [numOutcomes]uint64) Failures {
	return Failures{Expected4xx: o[Expected4xx], Unexpected4xx: o[Unexpected4xx], Unexpected2xx: o[Unexpected2xx],
		Server5xx: o[Server5xx], Network: o[Network], InvalidAnswer: o[InvalidAnswer]}
}

func msf(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
