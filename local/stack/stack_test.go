package stack

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/wdm-knative/webshop/local/stackfile"
)

// environ reads a running process's environment.
func environ(t *testing.T, pid int) map[string]string {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", pid))
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{}
	for _, kv := range bytes.Split(b, []byte{0}) {
		if k, v, ok := strings.Cut(string(kv), "="); ok {
			env[k] = v
		}
	}
	return env
}

// The whole stack with stand-ins for the function and broker binaries (their
// owners test them; here the wiring is under test): private Postgres and
// RabbitMQ, migrations, every process with its settings, the gateway routing
// to them, restarts after SIGKILL, and a Stop that leaves nothing behind.
func TestStackRunsRestartsAndStops(t *testing.T) {
	saved := binaries
	binaries = []string{"./local/stack/testdata/fake/function", "./local/stack/testdata/fake/broker", "./cmd/gateway"}
	defer func() { binaries = saved }()

	dir, err := os.MkdirTemp("", "wdm-stack-test-")
	if err != nil {
		t.Fatal(err)
	}
	_ = os.Chmod(dir, 0o755) // the postgres user must reach its data folder
	t.Cleanup(func() { os.RemoveAll(dir) })
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()

	var logs bytes.Buffer
	st, err := Start(ctx, Options{Dir: dir, GatewayAddr: "127.0.0.1:0", Log: slog.New(slog.NewJSONHandler(&logs, nil))})
	if err != nil {
		t.Fatalf("start: %v\n%s", err, logs.String())
	}
	defer st.Stop()

	want := []string{Postgres, RabbitMQ, Broker, "stock", "payment", "order", "saga", "dead-letter", Gateway}
	got := st.Components()
	if len(got) != len(want) {
		t.Fatalf("components %v, want %v", got, want)
	}
	for _, name := range want {
		if st.Pid(name) == 0 {
			t.Errorf("%s is not running", name)
		}
	}

	t.Run("databases migrated", func(t *testing.T) {
		for _, db := range []struct{ name, table string }{{"stock", "items"}, {"payment", "users"}, {"order", "orders"}} {
			conn, err := pgx.Connect(ctx, st.DSN(db.name))
			if err != nil {
				t.Fatal(err)
			}
			var n int
			if err := conn.QueryRow(ctx, "SELECT count(*) FROM "+db.table).Scan(&n); err != nil {
				t.Errorf("%s.%s: %v", db.name, db.table, err)
			}
			conn.Close(ctx)
		}
	})

	t.Run("settings", func(t *testing.T) {
		stock := environ(t, st.Pid("stock"))
		broker := environ(t, st.Pid(Broker))
		gateway := environ(t, st.Pid(Gateway))
		stockURL := "http://127.0.0.1:" + stock["PORT"]
		paymentURL := "http://127.0.0.1:" + environ(t, st.Pid("payment"))["PORT"]
		checks := []struct{ name, got, want string }{
			{"stock FUNCTION", stock["FUNCTION"], "stock"},
			{"K_SINK is the broker ingress", stock["K_SINK"], "http://127.0.0.1:" + broker["BROKER_PORT"] + "/"},
			{"STOCK_URL is the stock process", stock["STOCK_URL"], stockURL},
			{"PAYMENT_URL is the payment process", stock["PAYMENT_URL"], paymentURL},
			{"broker AMQP_URL", broker["AMQP_URL"], st.AMQPURL()},
			{"broker TRIGGERS_DIR", filepath.Base(filepath.Dir(broker["TRIGGERS_DIR"])) + "/" + filepath.Base(broker["TRIGGERS_DIR"]), "knative/base"},
			{"gateway address", "http://" + gateway["GATEWAY_ADDR"], st.GatewayURL()},
			{"stock GOMAXPROCS", stock["GOMAXPROCS"], cmp.Or(os.Getenv("GOMAXPROCS"), "1")},
			{"broker GOMAXPROCS", broker["GOMAXPROCS"], cmp.Or(os.Getenv("GOMAXPROCS"), "1")},
		}
		// Tuned scheduling (sched.go): every process, servers included.
		for _, p := range []struct {
			name, slack string
		}{{"stock", "5000000"}, {Broker, "5000000"}, {Gateway, "5000000"}, {Postgres, "1000000"}, {RabbitMQ, "1000000"}} {
			slack, policy := schedOf(t, st.Pid(p.name))
			checks = append(checks,
				struct{ name, got, want string }{p.name + " timer slack", slack, p.slack},
				struct{ name, got, want string }{p.name + " policy", policy, "3"}) // SCHED_BATCH
		}
		for _, c := range checks {
			if c.got != c.want {
				t.Errorf("%s = %q, want %q", c.name, c.got, c.want)
			}
		}
		// The functions reach the private Postgres through its socket,
		// as the same user, in their own database.
		cfg, err := pgx.ParseConfig(stock["STOCK_DSN"])
		if err != nil {
			t.Fatalf("STOCK_DSN %q: %v", stock["STOCK_DSN"], err)
		}
		if !strings.HasPrefix(cfg.Host, "/") {
			t.Errorf("STOCK_DSN host = %q, want the server's socket folder", cfg.Host)
		}
		conn, err := pgx.ConnectConfig(ctx, cfg)
		if err != nil {
			t.Fatalf("connect with STOCK_DSN: %v", err)
		}
		defer conn.Close(ctx)
		var db string
		if err := conn.QueryRow(ctx, "SELECT current_database()").Scan(&db); err != nil || db != "stock" {
			t.Errorf("STOCK_DSN reaches database %q (%v), want stock", db, err)
		}
		for _, entry := range []string{"stock-reserve=" + stockURL, "stock-release=" + stockURL} {
			if !strings.Contains(broker["SUBSCRIBER_URLS"], entry) {
				t.Errorf("SUBSCRIBER_URLS %q lacks %q", broker["SUBSCRIBER_URLS"], entry)
			}
		}
		if !strings.Contains(gateway["ROUTES"], "stock-find="+stockURL) {
			t.Errorf("ROUTES %q lacks stock-find=%s", gateway["ROUTES"], stockURL)
		}
	})

	t.Run("endpoints file", func(t *testing.T) {
		e, err := stackfile.Read(dir)
		if err != nil {
			t.Fatal(err)
		}
		stock := environ(t, st.Pid("stock"))
		brokerPort := environ(t, st.Pid(Broker))["BROKER_PORT"]
		checks := []struct{ name, got, want string }{
			{"gateway", e.GatewayURL, st.GatewayURL()},
			{"amqp", e.AMQPURL, st.AMQPURL()},
			{"postgres", e.PostgresDSN, st.DSN("postgres")},
			{"stock metrics", e.Metrics["stock"], "http://127.0.0.1:" + stock["PORT"] + "/metrics"},
			{"broker metrics", e.Metrics[Broker], "http://127.0.0.1:" + brokerPort + "/metrics"},
			{"broker is K_SINK", e.BrokerURL, stock["K_SINK"]},
			{"order DSN", e.OrderDSN, st.DSN("order")},
			{"stock DSN", e.StockDSN, st.DSN("stock")},
			{"payment DSN", e.PaymentDSN, st.DSN("payment")},
		}
		for _, c := range checks {
			if c.got != c.want {
				t.Errorf("%s = %q, want %q", c.name, c.got, c.want)
			}
		}
		if procs, _ := Plan(GroupByDomain); len(e.Metrics) != len(procs)+1 {
			t.Errorf("metrics of %d processes, want the broker and %d function processes: %v", len(e.Metrics), len(procs), e.Metrics)
		}
	})

	get := func(path string) (status int, function string, err error) {
		resp, err := http.Get(st.GatewayURL() + path)
		if err != nil {
			return 0, "", err
		}
		defer resp.Body.Close()
		io.Copy(io.Discard, resp.Body)
		return resp.StatusCode, resp.Header.Get("X-Function"), nil
	}
	t.Run("gateway routes", func(t *testing.T) {
		for _, c := range []struct {
			path, function string
			status         int
		}{
			{"/stock/find/1", "stock", 200},
			{"/payment/find_user/1", "payment", 200},
			{"/orders/find/1", "order", 200},
			{"/nowhere", "", 404},
		} {
			status, fn, err := get(c.path)
			if err != nil || status != c.status || fn != c.function {
				t.Errorf("GET %s: %d from %q (%v), want %d from %q", c.path, status, fn, err, c.status, c.function)
			}
		}
	})

	// The fault tests of the end-to-end suite kill these by name.
	for _, c := range []struct {
		name   string
		within time.Duration
	}{
		{"stock", 2 * time.Second},
		{"saga", 2 * time.Second},
		{Broker, 2 * time.Second},
		{Gateway, 2 * time.Second},
		{Postgres, 10 * time.Second},
		{RabbitMQ, 60 * time.Second},
	} {
		t.Run("kill "+c.name, func(t *testing.T) {
			old := st.Pid(c.name)
			start := time.Now()
			if err := st.Kill(c.name); err != nil {
				t.Fatal(err)
			}
			if err := st.WaitReady(ctx, c.name); err != nil {
				t.Fatal(err)
			}
			took := time.Since(start)
			t.Logf("%s back in %v", c.name, took)
			if took > c.within {
				t.Errorf("%s ready again after %v, want <= %v", c.name, took, c.within)
			}
			if st.Pid(c.name) == old {
				t.Errorf("same pid %d after a kill", old)
			}
			if status, _, err := get("/stock/find/1"); err != nil || status != 200 {
				t.Errorf("after the restart: %d %v", status, err)
			}
		})
	}

	t.Run("stop leaves no process", func(t *testing.T) {
		var groups []int
		for _, name := range st.Components() {
			groups = append(groups, st.Pid(name))
		}
		st.Stop()
		for _, g := range groups {
			if g != 0 {
				// Killed members may linger a moment as zombies until init reaps them.
				waitGone(t, g, 2*time.Second)
			}
		}
		if _, err := stackfile.Read(dir); !errors.Is(err, stackfile.ErrNoStack) {
			t.Errorf("after Stop, stackfile.Read = %v, want ErrNoStack", err)
		}
		b, _ := os.ReadFile(filepath.Join(dir, "ports.json"))
		if !strings.Contains(string(b), `"postgres":`+strconv.Itoa(portOf(st.PostgresAddr()))) {
			t.Errorf("ports.json %s does not keep postgres's port", b)
		}
	})
}

func portOf(addr string) int {
	_, p, _ := strings.Cut(addr, ":")
	n, _ := strconv.Atoi(p)
	return n
}

// schedOf reads a process's timer slack (ns) and scheduling policy number.
func schedOf(t *testing.T, pid int) (slack, policy string) {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/timerslack_ns", pid))
	if err != nil {
		t.Fatal(err)
	}
	sched, err := os.ReadFile(fmt.Sprintf("/proc/%d/sched", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(sched), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "policy" {
			policy = strings.TrimSpace(v)
		}
	}
	return strings.TrimSpace(string(b)), policy
}
