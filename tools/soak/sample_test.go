package soak

import (
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/wdm-knative/webshop/internal/metrics"
	"github.com/wdm-knative/webshop/local/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// A sample of a real Postgres, a real RabbitMQ and a process serving the
// project's metrics registry counts what the test put there.
func TestSamplerReadsTheStack(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dsn := testenv.NewDatabase(t)
	db := dsn[strings.LastIndex(dsn, "/")+1:]
	if i := strings.Index(db, "?"); i >= 0 {
		db = db[:i]
	}
	// Three connections of "a pool" to the test's database.
	for range 3 {
		conn, err := pgx.Connect(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close(context.Background()) })
	}

	amqpURL := testenv.AMQPURL(t)
	ch := testenv.AMQPChannel(t, amqpURL)
	queue := fmt.Sprintf("soak-test-%d", os.Getpid())
	dlq := queue + ".dead-letter"
	for _, q := range []string{queue, dlq} {
		if _, err := ch.QueueDeclare(q, false, true, false, false, nil); err != nil {
			t.Fatal(err)
		}
	}
	for range 5 {
		if err := ch.PublishWithContext(ctx, "", queue, false, false, amqp.Publishing{Body: []byte("x")}); err != nil {
			t.Fatal(err)
		}
	}

	proc := httptest.NewServer(metrics.Handler(metrics.NewRegistry()))
	defer proc.Close()

	s, err := NewSampler(ctx, Targets{
		Metrics:     map[string]string{"stock": proc.URL + "/metrics", "gone": "http://127.0.0.1:1/metrics"},
		PostgresDSN: dsn, AMQPURL: amqpURL,
		Queues: []string{queue, "soak-test-no-such-queue"}, DeadLetterQueue: dlq,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.MaxConnections < 10 {
		t.Errorf("max_connections %d", s.MaxConnections)
	}

	// Publishes are asynchronous: the depth shows up within a moment.
	var sm Sample
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if sm = s.Sample(ctx); sm.Queues[queue] == 5 {
			break
		}
	}
	if got := sm.PGConnections[db]; got != 3 {
		t.Errorf("connections to %s: %d, want 3 (the sampler's own not counted): %v", db, got, sm.PGConnections)
	}
	if sm.Queues[queue] != 5 {
		t.Errorf("depth of %s: %d, want 5", queue, sm.Queues[queue])
	}
	if n, ok := sm.Queues[dlq]; !ok || n != 0 {
		t.Errorf("dead letters: %d (read: %v), want 0", n, ok)
	}
	p := sm.Processes["stock"]
	if p.Goroutines < 1 || p.RSSBytes < 1<<20 || p.StartTime < 1e9 {
		t.Errorf("process metrics %+v", p)
	}
	// The missing queue fails alone: the queues after it are still read
	// on a new channel.
	for _, want := range []string{"gone:", "queue soak-test-no-such-queue: no such queue"} {
		found := false
		for _, e := range sm.Errors {
			found = found || strings.HasPrefix(e, want)
		}
		if !found {
			t.Errorf("errors %q lack %q", sm.Errors, want)
		}
	}
	if len(sm.Errors) != 2 {
		t.Errorf("errors %q, want exactly the two above", sm.Errors)
	}
}
