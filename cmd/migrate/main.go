// Command migrate brings the order, stock and payment databases up to the
// newest migration and reapplies their functions folders (docs/sql.md). In a
// cluster it runs as a Job before the functions roll out; locally `make up`
// applies the same SQL in-process.
package main

import (
	"context"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/kelseyhightower/envconfig"

	dbmigrations "github.com/wdm-knative/webshop/db-migrations"
)

// settings of the migrator: one DSN per database, as the functions get them.
type settings struct {
	OrderDSN   string        `envconfig:"ORDER_DSN" required:"true"`
	StockDSN   string        `envconfig:"STOCK_DSN" required:"true"`
	PaymentDSN string        `envconfig:"PAYMENT_DSN" required:"true"`
	Timeout    time.Duration `envconfig:"MIGRATE_TIMEOUT" default:"5m"`
	LogLevel   slog.Level    `envconfig:"LOG_LEVEL" default:"info"`
}

func main() {
	level := new(slog.LevelVar)
	log := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	var s settings
	if err := envconfig.Process("", &s); err != nil {
		log.Error("bad settings", "err", err)
		os.Exit(2)
	}
	level.Set(s.LogLevel)

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, s.Timeout)
	defer cancel()
	for _, db := range []struct{ name, dsn string }{
		{"order", s.OrderDSN}, {"stock", s.StockDSN}, {"payment", s.PaymentDSN},
	} {
		start := time.Now()
		if err := dbmigrations.Apply(ctx, db.dsn, db.name); err != nil {
			log.Error("migration failed", "database", db.name, "err", err)
			os.Exit(1)
		}
		log.Info("migrated", "database", db.name, "took", time.Since(start).String())
	}
}
