package servers_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/wdm-knative/webshop/local/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// A private Postgres survives SIGKILL with its data: durability is on.
func TestPostgresKeepsCommittedDataAcrossKill(t *testing.T) {
	p, srv := testenv.OwnPostgres(t, true)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, p.DSN("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, "CREATE TABLE kept (v int); INSERT INTO kept VALUES (42)"); err != nil {
		t.Fatal(err)
	}
	conn.Close(ctx)
	srv.Kill()
	if err := srv.Start(ctx); err != nil {
		t.Fatalf("restart: %v", err)
	}
	conn, err = pgx.Connect(ctx, p.DSN("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var v int
	if err := conn.QueryRow(ctx, "SELECT v FROM kept").Scan(&v); err != nil || v != 42 {
		t.Fatalf("after restart got %d, %v; want 42", v, err)
	}
}

// A private RabbitMQ node keeps a persistent message in a durable queue across SIGKILL.
func TestRabbitMQKeepsPersistentMessageAcrossKill(t *testing.T) {
	r, srv := testenv.OwnRabbitMQ(t, true)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	conn, err := amqp.Dial(r.URL())
	if err != nil {
		t.Fatal(err)
	}
	ch, _ := conn.Channel()
	if _, err := ch.QueueDeclare("kept", true, false, false, false, amqp.Table{"x-queue-type": "quorum"}); err != nil {
		t.Fatal(err)
	}
	if err := ch.Confirm(false); err != nil {
		t.Fatal(err)
	}
	dc, err := ch.PublishWithDeferredConfirmWithContext(ctx, "", "kept", false, false, amqp.Publishing{DeliveryMode: amqp.Persistent, Body: []byte("hello")})
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := dc.WaitContext(ctx); !ok || err != nil {
		t.Fatalf("confirm: %v %v", ok, err)
	}
	conn.Close()
	// RabbitMQ 3.10 records a new quorum queue in a table it syncs to disk
	// only after a few seconds; a SIGKILL right after the declaration loses the
	// queue's log. Real brokers declare their topology long before a crash.
	time.Sleep(10 * time.Second)
	srv.Kill()
	if err := srv.Start(ctx); err != nil {
		t.Fatalf("restart: %v", err)
	}
	conn, err = amqp.Dial(r.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// A quorum queue needs a moment to elect its leader after a restart, and a
	// failed Get closes the channel, so each try opens a fresh one.
	var lastErr error
	for {
		ch, err := conn.Channel()
		if err == nil {
			m, ok, gerr := ch.Get("kept", true)
			if gerr == nil && ok {
				if string(m.Body) != "hello" {
					t.Fatalf("got %q", m.Body)
				}
				return
			}
			lastErr = gerr
			if gerr == nil {
				lastErr = errors.New("queue empty")
			}
			ch.Close()
		} else {
			lastErr = err
		}
		select {
		case <-ctx.Done():
			t.Fatalf("message lost: %v", lastErr)
		case <-time.After(200 * time.Millisecond):
		}
	}
}
