package function

import (
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"slices"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/kelseyhightower/envconfig"

	"github.com/wdm-knative/webshop/internal/operation"
	"github.com/wdm-knative/webshop/saga"
)

// Config is every setting of a function process, read once from the
// environment. Which settings are required depends on FUNCTION: a process
// serving only stock operations needs only STOCK_DSN.
type Config struct {
	// Function names the operations to serve: operation names, domain names
	// or "all", comma-separated (see internal/operation.Select).
	Function string `envconfig:"FUNCTION" required:"true"`

	OrderDSN   string `envconfig:"ORDER_DSN"`   // order database (also the saga's)
	StockDSN   string `envconfig:"STOCK_DSN"`   // stock database
	PaymentDSN string `envconfig:"PAYMENT_DSN"` // payment database
	// DBMaxConns sizes each database pool unless the DSN says pool_max_conns.
	DBMaxConns int32 `envconfig:"DB_MAX_CONNS" default:"16"`
	// Migrate applies the embedded migrations of the databases this process
	// uses at start (safe with many replicas: goose holds an advisory lock).
	Migrate bool `envconfig:"MIGRATE" default:"false"`

	// StockURL and PaymentURL are where the order function reaches
	// stock-find and payment-find-user: locally the process that serves
	// the operation (the stack skips the gateway), in a cluster the
	// operation's cluster-local Service.
	StockURL   string `envconfig:"STOCK_URL"`
	PaymentURL string `envconfig:"PAYMENT_URL"`
	// Sink is the broker ingress (Knative's SinkBinding injects K_SINK).
	Sink string `envconfig:"K_SINK"`

	// The saga's settings; unset, saga.DefaultOptions applies (their one
	// home). CheckoutTimeout is how long a checkout waits for its saga's
	// outcome before answering 503 (the saga goes on; a retry joins it).
	CheckoutTimeout time.Duration `envconfig:"CHECKOUT_TIMEOUT"`
	// SagaStallAfter is how long a running saga may go unchanged before the
	// recovery sweep re-sends what it waits for.
	SagaStallAfter time.Duration `envconfig:"SAGA_STALL_AFTER"`
	// SagaDeadline is how long a saga may stay pending (no rejection, not
	// yet paid) before the sweep decides it failed and compensates.
	SagaDeadline time.Duration `envconfig:"SAGA_DEADLINE"`
	// SagaSendTimeout bounds handing one event to the broker.
	SagaSendTimeout time.Duration `envconfig:"SAGA_SEND_TIMEOUT"`
	// SagaSweepInterval is the period of the sweep inside the process
	// serving saga-sweep (the PingSource is only its backstop).
	SagaSweepInterval time.Duration `envconfig:"SAGA_SWEEP_INTERVAL"`
	// DeadLetterRetention is how long the dead-letter operation keeps a
	// dead letter; older ones are pruned on its PingSource ticks.
	DeadLetterRetention time.Duration `envconfig:"DEAD_LETTER_RETENTION" default:"168h"`

	// Port and ListenAddress are for cmd/function; the func runtime has its own.
	// Listening on loopback is enough under Knative too: the queue-proxy
	// sidecar reaches the container on localhost.
	Port          string `envconfig:"PORT" default:"8080"`
	ListenAddress string `envconfig:"LISTEN_ADDRESS"` // default 127.0.0.1:$PORT
	// PprofAddress, when set, serves net/http/pprof there (cmd/function).
	PprofAddress string `envconfig:"PPROF_ADDR"`

	LogLevel slog.Level `envconfig:"LOG_LEVEL" default:"info"`
}

// LoadConfig reads the settings from the environment and checks them, so a
// misconfigured process stops at once with a message naming the setting.
func LoadConfig() (Config, error) {
	var c Config
	if err := envconfig.Process("", &c); err != nil {
		return Config{}, fmt.Errorf("settings: %w", err)
	}
	if _, err := c.operations(); err != nil {
		return Config{}, err
	}
	return c, nil
}

// Listen is the address cmd/function serves on.
func (c Config) Listen() string {
	if c.ListenAddress != "" {
		return c.ListenAddress
	}
	return "127.0.0.1:" + c.Port
}

// operations resolves FUNCTION and checks that every setting the selected
// operations need is there and well-formed.
func (c Config) operations() ([]operation.Operation, error) {
	ops, err := operation.Select(c.Function)
	if err != nil {
		return nil, fmt.Errorf("settings: FUNCTION: %w", err)
	}
	var errs []error
	for _, db := range databasesOf(ops) {
		name, dsn := c.dsn(db)
		if dsn == "" {
			errs = append(errs, fmt.Errorf("settings: %s is required to serve %s operations", name, db))
			continue
		}
		if _, err := pgxpool.ParseConfig(dsn); err != nil {
			errs = append(errs, fmt.Errorf("settings: %s: %w", name, err))
		}
	}
	if selected(ops, operation.OrderAddItem) {
		errs = append(errs, checkURL("STOCK_URL", c.StockURL, operation.OrderAddItem))
	}
	if selected(ops, operation.OrderCreate) {
		errs = append(errs, checkURL("PAYMENT_URL", c.PaymentURL, operation.OrderCreate))
	}
	// The checkout sends checkout.requested and the sweep re-sends events
	// themselves; the other event operations only reply.
	for _, op := range []string{operation.OrderCheckout, operation.SagaSweep} {
		if selected(ops, op) {
			errs = append(errs, checkURL("K_SINK", c.Sink, op))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return ops, nil
}

// sagaOptions are the saga's settings among c.
func (c Config) sagaOptions() saga.Options {
	return saga.Options{CheckoutTimeout: c.CheckoutTimeout, StallAfter: c.SagaStallAfter,
		Deadline: c.SagaDeadline, SendTimeout: c.SagaSendTimeout, SweepEvery: c.SagaSweepInterval}
}

// dsn is the setting name and value of a database's DSN.
func (c Config) dsn(db string) (string, string) {
	switch db {
	case "order":
		return "ORDER_DSN", c.OrderDSN
	case "stock":
		return "STOCK_DSN", c.StockDSN
	default:
		return "PAYMENT_DSN", c.PaymentDSN
	}
}

// database is the database an operation's domain uses (operation.Domain.Database).
func database(d operation.Domain) string { return d.Database() }

// databasesOf lists, once each, the databases ops use.
func databasesOf(ops []operation.Operation) []string {
	var dbs []string
	for _, op := range ops {
		if db := database(op.Domain); !slices.Contains(dbs, db) {
			dbs = append(dbs, db)
		}
	}
	return dbs
}

func selected(ops []operation.Operation, name string) bool {
	return slices.ContainsFunc(ops, func(o operation.Operation) bool { return o.Name == name })
}

func checkURL(name, v, op string) error {
	if v == "" {
		return fmt.Errorf("settings: %s is required to serve %s", name, op)
	}
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("settings: %s=%q is not an http(s) URL", name, v)
	}
	return nil
}
