package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/kelseyhightower/envconfig"

	"github.com/wdm-knative/webshop/local/stackfile"
)

// settings are the functions' own variables, so that a Job or a shell
// configured like a function needs nothing new.
type settings struct {
	OrderDSN   string `envconfig:"ORDER_DSN"`
	StockDSN   string `envconfig:"STOCK_DSN"`
	PaymentDSN string `envconfig:"PAYMENT_DSN"`
	Sink       string `envconfig:"K_SINK"`
	// Dir is the local stack's folder, searched for upwards from the
	// working directory when relative.
	Dir string `envconfig:"WDM_DIR" default:".wdm"`
	// Timeout bounds a whole command.
	Timeout time.Duration `envconfig:"SHOPCTL_TIMEOUT" default:"30s"`
	// from says where the settings came from, for error messages.
	from string `ignored:"true"`
}

// loadSettings reads the environment; with none of the four addresses set,
// it takes them from the running local stack.
func loadSettings() (settings, error) {
	var s settings
	if err := envconfig.Process("", &s); err != nil {
		return s, fmt.Errorf("%w: settings: %w", errUsage, err)
	}
	s.from = "environment"
	if s.OrderDSN != "" || s.StockDSN != "" || s.PaymentDSN != "" || s.Sink != "" {
		return s, nil
	}
	dir, err := findStackDir(s.Dir)
	if err != nil {
		return s, err
	}
	e, err := stackfile.Read(dir)
	if err != nil {
		return s, fmt.Errorf("no ORDER_DSN, STOCK_DSN, PAYMENT_DSN or K_SINK set, and %w", err)
	}
	s.OrderDSN, s.StockDSN, s.PaymentDSN, s.Sink = e.OrderDSN, e.StockDSN, e.PaymentDSN, e.BrokerURL
	s.from = filepath.Join(dir, stackfile.Name)
	return s, nil
}

// findStackDir resolves a relative WDM_DIR against the working directory
// or the nearest folder above it that has one, so shopctl works from any
// folder of the checkout.
func findStackDir(dir string) (string, error) {
	if filepath.IsAbs(dir) {
		return dir, nil
	}
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for d := wd; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, dir, stackfile.Name)); err == nil {
			return filepath.Join(d, dir), nil
		}
		if filepath.Dir(d) == d {
			return filepath.Join(wd, dir), nil // stackfile.Read says it is not there
		}
	}
}

// database connects to one database, checking that it answers.
func (s settings) database(ctx context.Context, name string) (*pgx.Conn, error) {
	var setting, dsn string
	switch name {
	case "order":
		setting, dsn = "ORDER_DSN", s.OrderDSN
	case "stock":
		setting, dsn = "STOCK_DSN", s.StockDSN
	default:
		setting, dsn = "PAYMENT_DSN", s.PaymentDSN
	}
	if dsn == "" {
		return nil, fmt.Errorf("%w: %s is required for this command (settings from %s)", errUsage, setting, s.from)
	}
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", errUsage, setting, err)
	}
	if cfg.ConnectTimeout == 0 {
		cfg.ConnectTimeout = 5 * time.Second
	}
	cfg.RuntimeParams["application_name"] = "shopctl"
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("cannot reach the %s database at %s (%s from %s): %w",
			name, hostOf(cfg), setting, s.from, err)
	}
	return conn, nil
}

// hostOf names a database without its password.
func hostOf(cfg *pgx.ConnConfig) string {
	return (&url.URL{Host: fmt.Sprintf("%s:%d", cfg.Host, cfg.Port), Path: "/" + cfg.Database}).String()[2:]
}

// flags is a command's flag set: -o everywhere, and the command's own.
type flags struct {
	*flag.FlagSet
	output *string
}

func newFlags(name string) flags {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard) // errors are reported once, by run
	return flags{FlagSet: fs, output: fs.String("o", "table", "output: table or json")}
}

// parse reads flags placed before, between or after the positional
// arguments ("saga show 42 -o json") and returns the positional ones.
func (f flags) parse(args []string) ([]string, error) {
	var pos []string
	for {
		if err := f.Parse(args); err != nil {
			return nil, fmt.Errorf("%w: %s: %w", errUsage, f.Name(), err)
		}
		if f.NArg() == 0 {
			break
		}
		pos = append(pos, f.Arg(0))
		args = f.Args()[1:]
	}
	if *f.output != "table" && *f.output != "json" {
		return nil, fmt.Errorf("%w: -o %q: want table or json", errUsage, *f.output)
	}
	return pos, nil
}

// withTimeout bounds a command by the Timeout setting.
func (s settings) withTimeout(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, s.Timeout)
}

// session is what a command works with: its settings, its deadline and a
// connection to the order database (where sagas and dead letters live).
type session struct {
	settings
	ctx    context.Context
	order  *pgx.Conn
	cancel context.CancelFunc
}

// openSession loads the settings, runs check on them (nil: none) before
// anything connects, and connects to the order database.
func openSession(ctx context.Context, check func(settings) error) (*session, error) {
	s, err := loadSettings()
	if err != nil {
		return nil, err
	}
	if check != nil {
		if err := check(s); err != nil {
			return nil, err
		}
	}
	ctx, cancel := s.withTimeout(ctx)
	conn, err := s.database(ctx, "order")
	if err != nil {
		cancel()
		return nil, err
	}
	return &session{settings: s, ctx: ctx, order: conn, cancel: cancel}, nil
}

// close releases the connection and the deadline.
func (ss *session) close() {
	_ = ss.order.Close(context.WithoutCancel(ss.ctx))
	ss.cancel()
}
