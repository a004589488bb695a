package soak

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	amqp "github.com/rabbitmq/amqp091-go"
)

// Targets say what to sample.
type Targets struct {
	// Metrics maps a process name to its Prometheus /metrics URL.
	Metrics map[string]string
	// PostgresDSN reaches any database of the server; connections of every
	// database are counted.
	PostgresDSN string
	AMQPURL     string
	// Queues are the broker's Trigger queues; DeadLetterQueue its
	// dead-letter queue.
	Queues          []string
	DeadLetterQueue string
}

// Sample is one reading of the stack.
type Sample struct {
	AtS       float64            `json:"at_s"` // since sampling began
	Processes map[string]Process `json:"processes"`
	// PGConnections counts client connections by database.
	PGConnections map[string]int `json:"pg_connections"`
	// Queues holds the ready messages of each queue, the dead-letter queue
	// included.
	Queues map[string]int `json:"queues"`
	// Errors are the readings that failed; their values are missing.
	Errors []string `json:"errors,omitempty"`
}

// Process is what one process's /metrics says.
type Process struct {
	RSSBytes   float64 `json:"rss_bytes"`
	Goroutines float64 `json:"goroutines"`
	// StartTime (Unix seconds) changes when the process was restarted.
	StartTime float64 `json:"start_time"`
}

// Sampler reads the stack's processes, Postgres and RabbitMQ.
type Sampler struct {
	targets Targets
	http    *http.Client
	pg      *pgx.Conn
	amqp    *amqp.Connection
	ch      *amqp.Channel
	// MaxConnections is the Postgres server's max_connections.
	MaxConnections int
}

// NewSampler connects to Postgres and RabbitMQ; the connections are its
// own, and left out of the counts.
func NewSampler(ctx context.Context, t Targets) (*Sampler, error) {
	s := &Sampler{targets: t, http: &http.Client{Timeout: 5 * time.Second}}
	var err error
	if s.pg, err = pgx.Connect(ctx, t.PostgresDSN); err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	var maxConns string
	if err := s.pg.QueryRow(ctx, "SHOW max_connections").Scan(&maxConns); err != nil {
		s.Close()
		return nil, fmt.Errorf("postgres max_connections: %w", err)
	}
	if s.MaxConnections, err = strconv.Atoi(maxConns); err != nil {
		s.Close()
		return nil, fmt.Errorf("postgres max_connections %q: %w", maxConns, err)
	}
	if s.amqp, err = amqp.Dial(t.AMQPURL); err != nil {
		s.Close()
		return nil, fmt.Errorf("rabbitmq: %w", err)
	}
	return s, nil
}

// Close ends the sampler's connections.
func (s *Sampler) Close() {
	if s.pg != nil {
		_ = s.pg.Close(context.Background())
	}
	if s.amqp != nil {
		_ = s.amqp.Close()
	}
}

// Sample takes one reading of everything. A reading that fails is left out
// of the sample and named in its Errors.
func (s *Sampler) Sample(ctx context.Context) Sample {
	out := Sample{Processes: map[string]Process{}, PGConnections: map[string]int{}, Queues: map[string]int{}}
	fail := func(what string, err error) { out.Errors = append(out.Errors, what+": "+err.Error()) }
	for name, url := range s.targets.Metrics {
		p, err := s.scrape(ctx, url)
		if err != nil {
			fail(name, err)
			continue
		}
		out.Processes[name] = p
	}
	if conns, err := s.pgConnections(ctx); err != nil {
		fail("postgres", err)
	} else {
		out.PGConnections = conns
	}
	for _, q := range append(s.targets.Queues, s.targets.DeadLetterQueue) {
		n, err := s.queueDepth(q)
		if err != nil {
			fail("queue "+q, err)
			continue
		}
		out.Queues[q] = n
	}
	return out
}

func (s *Sampler) scrape(ctx context.Context, url string) (Process, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return Process{}, err
	}
	resp, err := s.http.Do(req)
	if err != nil {
		return Process{}, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return Process{}, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return parseMetrics(resp.Body)
}

// parseMetrics reads the three unlabelled series of the Go and process
// collectors that a soak watches from the Prometheus text format.
func parseMetrics(r io.Reader) (Process, error) {
	want := map[string]*float64{}
	var p Process
	want["process_resident_memory_bytes"] = &p.RSSBytes
	want["go_goroutines"] = &p.Goroutines
	want["process_start_time_seconds"] = &p.StartTime
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		name, value, ok := strings.Cut(sc.Text(), " ")
		dst := want[name]
		if !ok || dst == nil {
			continue
		}
		f, err := strconv.ParseFloat(strings.TrimSpace(value), 64)
		if err != nil {
			return p, fmt.Errorf("%s: %w", name, err)
		}
		*dst = f
		delete(want, name)
	}
	if err := sc.Err(); err != nil {
		return p, err
	}
	if len(want) > 0 {
		var missing []string
		for name := range want {
			missing = append(missing, name)
		}
		return p, fmt.Errorf("no %s in the metrics", strings.Join(missing, ", "))
	}
	return p, nil
}

func (s *Sampler) pgConnections(ctx context.Context) (map[string]int, error) {
	if s.pg.IsClosed() {
		conn, err := pgx.Connect(ctx, s.targets.PostgresDSN)
		if err != nil {
			return nil, err
		}
		s.pg = conn
	}
	rows, err := s.pg.Query(ctx, `SELECT coalesce(datname, ''), count(*) FROM pg_stat_activity
		WHERE backend_type = 'client backend' AND pid <> pg_backend_pid() GROUP BY 1`)
	if err != nil {
		return nil, err
	}
	out := map[string]int{}
	for rows.Next() {
		var db string
		var n int
		if err := rows.Scan(&db, &n); err != nil {
			return nil, err
		}
		out[db] = n
	}
	return out, rows.Err()
}

// queueDepth is the ready messages of queue q, read by a passive declare
// (the management plugin is not enabled). A failed declare closes the
// channel, so the next call opens a new one.
func (s *Sampler) queueDepth(q string) (int, error) {
	if s.ch == nil || s.ch.IsClosed() {
		if s.amqp.IsClosed() {
			conn, err := amqp.Dial(s.targets.AMQPURL)
			if err != nil {
				return 0, err
			}
			s.amqp = conn
		}
		ch, err := s.amqp.Channel()
		if err != nil {
			return 0, err
		}
		s.ch = ch
	}
	info, err := s.ch.QueueDeclarePassive(q, true, false, false, false, nil)
	if err != nil {
		var ae *amqp.Error
		if errors.As(err, &ae) && ae.Code == amqp.NotFound {
			return 0, fmt.Errorf("no such queue (broker/topology.go names them)")
		}
		return 0, err
	}
	return info.Messages, nil
}

// Flat judges a run's samples: per process RSS, goroutines and restarts,
// Postgres connections per database and in all, each queue's depth, and
// the dead-letter queue, which must stay empty.
func Flat(samples []Sample, t Targets, maxConnections int) []Verdict {
	var out []Verdict
	series := func(name string, rule Rule, value func(Sample) (float64, bool)) {
		s := Series{Name: name, Rule: rule}
		for _, sm := range samples {
			v, ok := value(sm)
			if !ok {
				v = math.NaN()
			}
			s.Values = append(s.Values, v)
		}
		out = append(out, Judge(s))
	}
	for _, name := range slices.Sorted(maps.Keys(t.Metrics)) {
		series("rss "+name, rssRule, func(s Sample) (float64, bool) { p, ok := s.Processes[name]; return p.RSSBytes, ok })
		series("goroutines "+name, goroutineRule, func(s Sample) (float64, bool) { p, ok := s.Processes[name]; return p.Goroutines, ok })
		out = append(out, restarts(name, samples))
	}
	dbs := map[string]bool{}
	for _, s := range samples {
		for db := range s.PGConnections {
			dbs[db] = true
		}
	}
	pgRead := func(s Sample) bool { return !hasError(s, "postgres") }
	for _, db := range slices.Sorted(maps.Keys(dbs)) {
		series("pg connections "+db, connectionRule, func(s Sample) (float64, bool) { return float64(s.PGConnections[db]), pgRead(s) })
	}
	total := connectionRule
	total.Ceiling, total.Bounded = float64(maxConnections), maxConnections > 0
	series("pg connections (all)", total, func(s Sample) (float64, bool) {
		n := 0
		for _, c := range s.PGConnections {
			n += c
		}
		return float64(n), pgRead(s)
	})
	for _, q := range t.Queues {
		series("queue "+q, queueRule, func(s Sample) (float64, bool) { n, ok := s.Queues[q]; return float64(n), ok })
	}
	series("dead letters "+t.DeadLetterQueue, deadLetterRule, func(s Sample) (float64, bool) {
		n, ok := s.Queues[t.DeadLetterQueue]
		return float64(n), ok
	})
	return out
}

// The rules of a soak run. Go's heap breathes with every GC cycle, hence
// RSS's room; goroutines and connections come in pools that should not
// grow once warm; a queue may hold a short backlog but not a growing one.
var (
	rssRule        = Rule{Growth: 0.25, Slack: 16 << 20}
	goroutineRule  = Rule{Growth: 0.25, Slack: 20, Ceiling: 10_000, Bounded: true}
	connectionRule = Rule{Growth: 0.25, Slack: 4}
	queueRule      = Rule{Growth: 0.5, Slack: 100}
	deadLetterRule = Rule{Ceiling: 0, Bounded: true}
)

// restarts fails when a process's start time changed during the run: a
// restart resets what the other series measure, and should not happen.
func restarts(name string, samples []Sample) Verdict {
	v := Verdict{Series: "restarts " + name, OK: true}
	first := math.NaN()
	for _, s := range samples {
		p, ok := s.Processes[name]
		if !ok {
			continue
		}
		v.Samples++
		switch {
		case math.IsNaN(first):
			first = p.StartTime
		case p.StartTime != first:
			v.Max++
			first = p.StartTime
		}
	}
	if v.Max > 0 {
		v.OK, v.Reason = false, fmt.Sprintf("restarted %g times", v.Max)
	}
	return v
}

func hasError(s Sample, prefix string) bool {
	for _, e := range s.Errors {
		if strings.HasPrefix(e, prefix+":") {
			return true
		}
	}
	return false
}

// Watch samples at once and then every interval until ctx ends, handing
// each sample to each (nil: none), and returns them all.
func (s *Sampler) Watch(ctx context.Context, interval time.Duration, each func(Sample)) []Sample {
	began := time.Now()
	tick := time.NewTicker(interval)
	defer tick.Stop()
	var out []Sample
	for {
		sm := s.Sample(ctx)
		if ctx.Err() != nil {
			return out // a reading cut short by the end is no reading
		}
		sm.AtS = time.Since(began).Seconds()
		out = append(out, sm)
		if each != nil {
			each(sm)
		}
		select {
		case <-ctx.Done():
			return out
		case <-tick.C:
		}
	}
}
