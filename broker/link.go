package broker

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/wdm-knative/webshop/internal/backoff"
)

// dialTimeout bounds one dial of RabbitMQ.
const dialTimeout = 5 * time.Second

// link keeps one AMQP connection open: it dials again with backoff after the
// connection breaks and runs setup (the topology declaration) on every new
// connection before anyone may use it.
type link struct {
	url   string
	name  string // shown in RabbitMQ's connection list
	setup func(*amqp.Connection) error
	log   *slog.Logger

	mu    sync.Mutex
	conn  *amqp.Connection
	ready chan struct{} // closed once conn is set; replaced when it breaks
	// blocked is set while RabbitMQ blocks publishers (memory or disk
	// alarm): a publish would then hang in a socket write that no context
	// can interrupt, so publishers fail fast instead.
	blocked atomic.Bool
}

func newLink(url, name string, setup func(*amqp.Connection) error, log *slog.Logger) *link {
	return &link{url: url, name: name, setup: setup, log: log.With("connection", name), ready: make(chan struct{})}
}

// run owns the connection until ctx ends, then closes it.
func (l *link) run(ctx context.Context) {
	delay := backoff.Min
	for ctx.Err() == nil {
		conn, err := l.open()
		if err != nil {
			l.log.Warn("rabbitmq unavailable", "err", err, "retry_in", delay.String())
			backoff.Sleep(ctx, delay)
			delay = min(delay*2, backoff.Max)
			continue
		}
		delay = backoff.Min
		closed := conn.NotifyClose(make(chan *amqp.Error, 1))
		l.watchBlocked(conn)
		l.set(conn)
		l.log.Info("rabbitmq connected")
		select {
		case <-ctx.Done():
			l.unset()
			_ = conn.Close()
			return
		case err := <-closed:
			l.unset()
			l.log.Warn("rabbitmq connection lost", "err", err)
		}
	}
}

func (l *link) open() (*amqp.Connection, error) {
	props := amqp.NewConnectionProperties()
	props.SetClientConnectionName(l.name)
	conn, err := amqp.DialConfig(l.url, amqp.Config{
		Heartbeat:  10 * time.Second,
		Locale:     "en_US",
		Properties: props,
		Dial:       amqp.DefaultDial(dialTimeout),
	})
	if err != nil {
		return nil, err
	}
	if err := l.setup(conn); err != nil {
		_ = conn.Close()
		return nil, fmt.Errorf("set up topology: %w", err)
	}
	return conn, nil
}

// watchBlocked follows connection.blocked notifications until the
// connection closes (amqp091 sends them synchronously: they must be read).
func (l *link) watchBlocked(conn *amqp.Connection) {
	notes := conn.NotifyBlocked(make(chan amqp.Blocking, 1))
	go func() {
		for b := range notes {
			l.blocked.Store(b.Active)
			if b.Active {
				l.log.Warn("rabbitmq blocks publishers", "reason", b.Reason)
			} else {
				l.log.Info("rabbitmq unblocked publishers")
			}
		}
		l.blocked.Store(false)
	}()
}

func (l *link) set(conn *amqp.Connection) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.conn = conn
	close(l.ready)
}

func (l *link) unset() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.conn = nil
	l.ready = make(chan struct{})
}

// connection waits for a usable connection.
func (l *link) connection(ctx context.Context) (*amqp.Connection, error) {
	for {
		l.mu.Lock()
		conn, ready := l.conn, l.ready
		l.mu.Unlock()
		if conn != nil && !conn.IsClosed() {
			return conn, nil
		}
		var recheck <-chan time.Time
		if conn != nil {
			// Closed, but run has not noticed yet: ready is still closed,
			// so poll briefly until run replaces it.
			ready, recheck = nil, time.After(10*time.Millisecond)
		}
		select {
		case <-ready:
		case <-recheck:
		case <-ctx.Done():
			return nil, fmt.Errorf("%w: %w", ErrUnavailable, ctx.Err())
		}
	}
}

// connected reports whether a connection is up, for health checks.
func (l *link) connected() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.conn != nil && !l.conn.IsClosed()
}
