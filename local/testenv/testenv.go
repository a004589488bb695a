// Package testenv gives tests real PostgreSQL and RabbitMQ servers: the ones
// `make test` started (named by WDM_TEST_PG_ADDR and WDM_TEST_AMQP_URL), or
// private instances this test binary starts on first use and Main stops. It
// also holds the small helpers tests of many packages share: a call of the
// API (Call), a RabbitMQ channel, a generated file kept in step, and a
// parser's table test.
package testenv

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wdm-knative/webshop/local/servers"
)

var (
	mu        sync.Mutex
	pgAddr    string
	amqpURL   string
	startedMu sync.Mutex // separate: servers start while mu is held
	started   []*servers.Server
	dbSerial  atomic.Int64
)

// Main runs the tests and stops every server the binary started.
func Main(m *testing.M) {
	code := m.Run()
	startedMu.Lock()
	for _, s := range started {
		_ = s.Stop()
	}
	startedMu.Unlock()
	os.Exit(code)
}

// NewDatabase creates an empty database for one test and returns its DSN.
func NewDatabase(t testing.TB) string {
	t.Helper()
	addr := postgresAddr(t)
	name := fmt.Sprintf("t_%d_%d_%s", os.Getpid(), dbSerial.Add(1), sanitize(t.Name()))
	if len(name) > 60 {
		name = name[:60]
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := servers.CreateDatabases(ctx, servers.ServerDSN(addr, "postgres"), name); err != nil {
		t.Fatalf("create test database: %v", err)
	}
	return servers.ServerDSN(addr, name)
}

// AMQPURL returns the address of a shared RabbitMQ server. Tests that use it
// must name their exchanges and queues uniquely.
func AMQPURL(t testing.TB) string {
	t.Helper()
	return shared(t, &amqpURL, "WDM_TEST_AMQP_URL", func() string {
		r, _ := OwnRabbitMQ(t, false)
		return r.URL()
	})
}

func postgresAddr(t testing.TB) string {
	t.Helper()
	return shared(t, &pgAddr, "WDM_TEST_PG_ADDR", func() string {
		p, _ := OwnPostgres(t, false)
		return fmt.Sprintf("127.0.0.1:%d", p.Port)
	})
}

// shared is the address in *addr: the first caller sets it from the
// environment variable env (the server make test started), or else from the
// server start starts for this test binary.
func shared(t testing.TB, addr *string, env string, start func() string) string {
	t.Helper()
	mu.Lock()
	defer mu.Unlock()
	if *addr == "" {
		*addr = os.Getenv(env)
	}
	if *addr == "" {
		*addr = start()
	}
	return *addr
}

// OwnPostgres starts a private PostgreSQL server that only this caller uses,
// for tests that kill it. With perTest the server stops when the test ends;
// otherwise when Main returns.
func OwnPostgres(t testing.TB, perTest bool) (*servers.Postgres, *servers.Server) {
	t.Helper()
	return own(t, perTest, "postgres", func(ctx context.Context, dir string, port func() int) (*servers.Postgres, error) {
		_ = os.Chmod(dir, 0o755)
		return servers.NewPostgres(ctx, filepath.Join(dir, "pg"), port())
	})
}

// OwnRabbitMQ starts a private RabbitMQ node that only this caller uses.
func OwnRabbitMQ(t testing.TB, perTest bool) (*servers.RabbitMQ, *servers.Server) {
	t.Helper()
	return own(t, perTest, "rabbitmq", func(_ context.Context, dir string, port func() int) (*servers.RabbitMQ, error) {
		return servers.NewRabbitMQ(dir, port(), port())
	})
}

// server is what own starts: a command and how to tell it is ready.
type server interface {
	Command() (*exec.Cmd, error)
	WaitReady(ctx context.Context) error
}

// own starts the server that configure sets up in a new temporary folder
// (port draws a free port) and tracks it as OwnPostgres says.
func own[S server](t testing.TB, perTest bool, what string,
	configure func(ctx context.Context, dir string, port func() int) (S, error)) (S, *servers.Server) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dir, err := os.MkdirTemp("", "wdm-test-"+what+"-")
	if err != nil {
		t.Fatal(err)
	}
	port := func() int {
		p, err := servers.FreePort()
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	srv, err := configure(ctx, dir, port)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	s, err := servers.StartServer(ctx, srv.Command, srv.WaitReady)
	if err != nil {
		t.Fatalf("start %s: %v", what, err)
	}
	track(t, s, perTest)
	return srv, s
}

func track(t testing.TB, s *servers.Server, perTest bool) {
	if perTest {
		t.Cleanup(func() { _ = s.Stop() })
		return
	}
	startedMu.Lock()
	started = append(started, s)
	startedMu.Unlock()
}

func sanitize(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			return r
		}
		if r >= 'A' && r <= 'Z' {
			return r + 'a' - 'A'
		}
		return '_'
	}, s)
}
