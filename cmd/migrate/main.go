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

	dbmigrations "github.com/wdm-knative/webshop/db-migrations"
	"github.com/wdm-knative/webshop/internal/startup"
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
	var s settings
	log := startup.Load(&s, &s.LogLevel)

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
