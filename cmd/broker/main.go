// Command broker runs the local stand-in for the Knative RabbitMQ Broker:
// the ingress (K_SINK of every function) and one dispatcher per Trigger
// found in TRIGGERS_DIR, in one process.
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/kelseyhightower/envconfig"
	eventingv1 "knative.dev/eventing/pkg/apis/eventing/v1"

	"github.com/wdm-knative/webshop/broker"
	"github.com/wdm-knative/webshop/internal/metrics"
)

// settings are read once from the environment; a bad one stops the process.
type settings struct {
	Port    int    `envconfig:"BROKER_PORT" default:"8081"`
	Host    string `envconfig:"BROKER_HOST" default:"127.0.0.1"`
	AMQPURL string `envconfig:"AMQP_URL" required:"true"`
	// TriggersDir is a list of folders (separated like PATH) whose Trigger
	// manifests the broker routes by: the shop's, then any extra consumers'.
	TriggersDir string     `envconfig:"TRIGGERS_DIR" default:"knative/base"`
	Subscribers string     `envconfig:"SUBSCRIBER_URLS"`
	BrokerName  string     `envconfig:"BROKER_NAME" default:"shop"`
	LogLevel    slog.Level `envconfig:"LOG_LEVEL" default:"INFO"`
	// ShutdownTimeout bounds the drain of in-flight requests and deliveries.
	ShutdownTimeout time.Duration `envconfig:"SHUTDOWN_TIMEOUT" default:"30s"`
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, nil); err != nil {
		slog.Error("broker failed", "err", err)
		os.Exit(1)
	}
}

// run serves until ctx ends. listening, when set, receives the ingress
// address once it accepts connections (tests use it).
func run(ctx context.Context, listening chan<- string) error {
	var s settings
	if err := envconfig.Process("", &s); err != nil {
		return err
	}
	log := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: s.LogLevel}))
	slog.SetDefault(log)

	var triggers []eventingv1.Trigger
	for _, dir := range filepath.SplitList(s.TriggersDir) {
		ts, err := broker.LoadTriggers(dir)
		if err != nil {
			return err
		}
		triggers = append(triggers, ts...)
	}
	subscribers, err := broker.ParseSubscriberURLs(s.Subscribers)
	if err != nil {
		return err
	}
	b, err := broker.New(broker.Config{
		Name:        s.BrokerName,
		AMQPURL:     s.AMQPURL,
		Triggers:    triggers,
		Subscribers: subscribers,
		Logger:      log,
		Registry:    metrics.NewRegistry(), // served on GET /metrics of the ingress port
	})
	if err != nil {
		return err
	}

	addr := net.JoinHostPort(s.Host, strconv.Itoa(s.Port))
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	srv := &http.Server{
		Handler:           b.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
	}

	runCtx, stopDispatch := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); b.Run(runCtx) }()
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	log.Info("broker listening", "addr", ln.Addr().String(), "triggers_dir", s.TriggersDir)
	if listening != nil {
		listening <- ln.Addr().String()
	}

	select {
	case <-ctx.Done():
	case err = <-serveErr:
	}
	// Ingress first (its publishes need the connection), then dispatchers.
	shutCtx, cancel := context.WithTimeout(context.Background(), s.ShutdownTimeout)
	defer cancel()
	if serr := srv.Shutdown(shutCtx); serr != nil {
		log.Warn("ingress shutdown", "err", serr)
	}
	stopDispatch()
	select {
	case <-done:
	case <-shutCtx.Done():
		log.Warn("dispatchers did not finish in time; RabbitMQ redelivers what was not acked")
	}
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}
