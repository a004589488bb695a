// Package function is the web shop as a Knative function: New() and Handle
// in the instanced style of Knative func's Go templates. One image serves
// whichever operations its FUNCTION setting names, so each operation can be
// its own Knative Service, and locally several can share a process.
package function

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	dbmigrations "github.com/wdm-knative/webshop/db-migrations"
	"github.com/wdm-knative/webshop/internal/api"
	"github.com/wdm-knative/webshop/internal/metrics"
	"github.com/wdm-knative/webshop/internal/operation"
)

// Function serves the selected operations of the web shop.
type Function struct {
	level *slog.LevelVar
	log   *slog.Logger

	mu      sync.Mutex
	handler http.Handler // nil until Start succeeds
	wiring  *wiring
}

// New returns a function that serves nothing until Start.
func New() *Function {
	level := new(slog.LevelVar)
	return &Function{
		level: level,
		log:   slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: level})),
	}
}

// wiring is what Start built for the selected operations. The handler
// wiring (routes.go) receives it to construct its handlers and to register
// what must be stopped.
type wiring struct {
	cfg    Config
	ops    []operation.Operation
	log    *slog.Logger
	pools  map[string]*pgxpool.Pool // by database: "order", "stock", "payment"
	client *http.Client             // for calls to other functions
	// sendClient sends events to the broker; each send's context bounds it.
	sendClient *http.Client
	onStop     []func(context.Context) error

	// registry holds this start's series, served on GET /metrics. A new
	// one per Start, so a restarted Function registers its series afresh
	// (counters restart from zero, as after a process restart).
	registry *prometheus.Registry
	requests *metrics.Requests
}

// pool is the database pool of a domain (the saga's is the order database).
func (w *wiring) pool(d operation.Domain) *pgxpool.Pool { return w.pools[database(d)] }

// Start is called by the func runtime before the first request. Its cfg is
// the runtime's copy of the process environment, which is where the settings
// are read from (with envconfig, like every process of the project).
func (f *Function) Start(ctx context.Context, _ map[string]string) error {
	cfg, err := LoadConfig()
	if err != nil {
		return err
	}
	return f.StartWith(ctx, cfg)
}

// StartWith is Start with settings already loaded: it opens the pools the
// selected operations need (applying migrations when cfg.Migrate) and builds
// the router. Any problem fails it: a function that cannot serve what it was
// deployed for should not start.
func (f *Function) StartWith(ctx context.Context, cfg Config) (err error) {
	f.level.Set(cfg.LogLevel)
	ops, err := cfg.operations()
	if err != nil {
		return err
	}
	reg := metrics.NewRegistry()
	w := &wiring{cfg: cfg, ops: ops, log: f.log, pools: map[string]*pgxpool.Pool{}, client: api.NewHTTPClient(), sendClient: api.NewSendClient(),
		registry: reg, requests: metrics.NewRequests(reg)}
	defer func() {
		if err != nil {
			_ = w.stop(context.WithoutCancel(ctx))
		}
	}()
	for _, db := range databasesOf(ops) {
		_, dsn := cfg.dsn(db)
		if cfg.Migrate {
			if err := dbmigrations.Apply(ctx, dsn, db); err != nil {
				return err
			}
		}
		pool, err := openPool(ctx, dsn, cfg, db)
		if err != nil {
			return err
		}
		w.pools[db] = pool
	}
	router, err := route(ctx, w)
	if err != nil {
		return err
	}

	f.mu.Lock()
	defer f.mu.Unlock()
	if f.wiring != nil {
		return errors.New("function already started")
	}
	f.handler, f.wiring = router, w
	f.log.Info("function started", "function", cfg.Function, "operations", len(ops))
	return nil
}

// openPool creates a database pool. It connects lazily: whether the database
// is reachable is what Ready reports, not a reason to crash-loop.
func openPool(ctx context.Context, dsn string, cfg Config, db string) (*pgxpool.Pool, error) {
	pc, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("%s database: %w", db, err)
	}
	if !strings.Contains(dsn, "pool_max_conns") && cfg.DBMaxConns > 0 {
		pc.MaxConns = cfg.DBMaxConns
	}
	if pc.ConnConfig.RuntimeParams["application_name"] == "" {
		pc.ConnConfig.RuntimeParams["application_name"] = "webshop " + cfg.Function
	}
	pool, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		return nil, fmt.Errorf("%s database: %w", db, err)
	}
	return pool, nil
}

// Handle serves one request with the selected operations.
func (f *Function) Handle(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	h := f.handler
	f.mu.Unlock()
	if h == nil {
		api.WriteJSON(w, http.StatusServiceUnavailable, map[string]string{"error": "function not started"})
		return
	}
	h.ServeHTTP(w, r)
}

// Ready reports whether the function can serve: started, and every database
// it uses answers.
func (f *Function) Ready(ctx context.Context) (bool, error) {
	f.mu.Lock()
	w := f.wiring
	f.mu.Unlock()
	if w == nil {
		return false, errors.New("function not started")
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	for db, p := range w.pools {
		if err := p.Ping(ctx); err != nil {
			return false, fmt.Errorf("%s database: %w", db, err)
		}
	}
	return true, nil
}

// Alive reports whether the process is healthy. Nothing in it can wedge
// short of the runtime itself, and a database outage is a readiness matter,
// not a reason for a restart.
func (f *Function) Alive(context.Context) (bool, error) { return true, nil }

// Stop releases what Start opened, in reverse order.
func (f *Function) Stop(ctx context.Context) error {
	f.mu.Lock()
	w := f.wiring
	f.handler, f.wiring = nil, nil
	f.mu.Unlock()
	if w == nil {
		return nil
	}
	f.log.Info("function stopping")
	return w.stop(ctx)
}

func (w *wiring) stop(ctx context.Context) error {
	var errs []error
	for i := len(w.onStop) - 1; i >= 0; i-- {
		errs = append(errs, w.onStop[i](ctx))
	}
	for _, p := range w.pools {
		p.Close()
	}
	w.client.CloseIdleConnections()
	w.sendClient.CloseIdleConnections()
	return errors.Join(errs...)
}
