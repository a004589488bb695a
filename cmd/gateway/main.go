// Command gateway is the local ingress: it serves the web shop's public paths
// on one address and proxies each to the process serving its operation.
// The same binary can run anywhere; only ROUTES says where operations live.
package main

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/wdm-knative/webshop/internal/startup"
	"github.com/wdm-knative/webshop/local/stack/gateway"
)

// settings of the gateway process.
type settings struct {
	Addr string `envconfig:"GATEWAY_ADDR" default:"127.0.0.1:8000"`
	// Routes: "operation=baseURL,..." (keys may also be domains or "all").
	Routes    string        `envconfig:"ROUTES" required:"true"`
	DialRetry time.Duration `envconfig:"GATEWAY_DIAL_RETRY" default:"3s"`
	LogLevel  slog.Level    `envconfig:"LOG_LEVEL" default:"info"`
}

func main() {
	var s settings
	log := startup.Load(&s, &s.LogLevel)
	routes, err := gateway.ParseRoutes(s.Routes)
	if err != nil {
		log.Error("bad ROUTES", "err", err)
		os.Exit(2)
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	srv := &http.Server{
		Addr:              s.Addr,
		Handler:           gateway.New(routes, gateway.Options{DialRetry: s.DialRetry, Log: log}),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
	}
	drained := make(chan struct{})
	go func() {
		defer close(drained)
		<-ctx.Done()
		// Let requests in flight (a checkout waiting for its saga) finish.
		shutdown, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdown)
	}()
	log.Info("gateway listening", "addr", s.Addr, "operations", len(routes))
	if err := srv.ListenAndServe(); !errors.Is(err, http.ErrServerClosed) {
		log.Error("serve", "err", err)
		os.Exit(1)
	}
	<-drained
}
