// Package e2e tests the whole web shop as its users see it: a local stack of
// OS processes (Postgres, RabbitMQ, broker, functions, gateway) driven through
// the public API, with the course's consistency checks and crashes.
package e2e

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/wdm-knative/webshop/internal/shopclient"
	"github.com/wdm-knative/webshop/local/stack"
)

// shop is the stack every test of the package shares; tests run one at a
// time because some of them kill its parts.
var (
	shop   *stack.Stack
	client *shopclient.Client
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	dir, err := os.MkdirTemp("", "wdm-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	_ = os.Chmod(dir, 0o755) // the postgres user must reach its data folder
	logFile, err := os.Create(filepath.Join(os.TempDir(), "wdm-e2e-stack.log"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer logFile.Close()
	var consumerTriggers string
	outcomes, consumerTriggers, err = startOutcomeSubscriber(dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer outcomes.srv.Close()
	fmt.Println("e2e: starting a stack; its log:", logFile.Name())
	shop, err = stack.Start(ctx, stack.Options{
		Dir:         dir,
		GatewayAddr: "127.0.0.1:0",
		BinDir:      filepath.Join(os.TempDir(), "wdm-e2e-bin"),
		Log:         slog.New(slog.NewJSONHandler(io.MultiWriter(logFile), nil)),
		// Stalled sagas are re-driven sooner than the default so that
		// recovery after a crash fits the tests' 30 s bound with room.
		Env:         []string{"SAGA_STALL_AFTER=2s"},
		TriggerDirs: []string{consumerTriggers},
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e: start stack:", err, "(logs in", dir+"/logs)")
		copyLogs(dir)
		return 1
	}
	client = shopclient.New(shop.GatewayURL(), 1024)
	code := m.Run()
	if code != 0 {
		copyLogs(dir)
	}
	shop.Stop()
	return code
}

// copyLogs keeps the stack's logs of a failed run where CI output can name them.
func copyLogs(dir string) {
	dst := filepath.Join(os.TempDir(), "wdm-e2e-logs")
	_ = os.RemoveAll(dst)
	if err := os.CopyFS(dst, os.DirFS(filepath.Join(dir, "logs"))); err == nil {
		fmt.Println("e2e: stack logs kept in", dst)
	}
}
