// Command function runs the web-shop function locally the way Knative func's
// Go scaffolding does: New, Start, then Handle behind an HTTP server with
// /health/readiness and /health/liveness, until SIGINT or SIGTERM.
package main

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"syscall"
	"time"

	function "github.com/wdm-knative/webshop"
	"github.com/wdm-knative/webshop/internal/api"
)

func main() {
	log := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	err := run(ctx, log)
	stop()
	if err != nil {
		log.Error("function failed", "err", err)
		os.Exit(1)
	}
}

// run serves until ctx ends (a signal), then shuts down gracefully.
func run(ctx context.Context, log *slog.Logger) error {
	cfg, err := function.LoadConfig()
	if err != nil {
		return err
	}
	f := function.New()
	if err := f.StartWith(ctx, cfg); err != nil {
		return err
	}

	mux := http.NewServeMux()
	mux.Handle("/health/readiness", probe(f.Ready))
	mux.Handle("/health/liveness", probe(f.Alive))
	mux.HandleFunc("/", f.Handle)
	srv := &http.Server{
		Addr:              cfg.Listen(),
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       120 * time.Second,
	}
	served := make(chan error, 1)
	go func() { served <- srv.ListenAndServe() }()
	if addr := cfg.PprofAddress; addr != "" {
		// Off unless asked for: profiles of a process under load, on an
		// address of their own so the public routes never expose them.
		go func() { log.Warn("pprof stopped", "err", http.ListenAndServe(addr, pprofMux())) }()
	}
	log.Info("function listening", "address", srv.Addr, "function", cfg.Function)

	select {
	case err := <-served:
		_ = f.Stop(context.Background())
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down")
	// Finish in-flight requests before closing the pools they use.
	sctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	err = srv.Shutdown(sctx)
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return errors.Join(err, f.Stop(sctx))
}

// probe answers a health check from one of the function's Ready/Alive methods.
func probe(check func(context.Context) (bool, error)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ok, err := check(r.Context())
		if !ok || err != nil {
			msg := "not ready"
			if err != nil {
				msg = err.Error()
			}
			api.WriteJSON(w, http.StatusServiceUnavailable, map[string]string{"error": msg})
			return
		}
		api.WriteJSON(w, http.StatusOK, map[string]bool{"ok": true})
	})
}

// pprofMux serves net/http/pprof's handlers.
func pprofMux() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return mux
}
