package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/wdm-knative/webshop/e2e/faults"
	"github.com/wdm-knative/webshop/internal/shopclient"
	"github.com/wdm-knative/webshop/local/stack"
	"github.com/wdm-knative/webshop/local/stackfile"
)

// deadLetterDeadline is SAGA_DEADLINE of the dead-letter test's stack: long
// enough for the recovering order to be re-driven before it, short enough
// to keep the test short.
const deadLetterDeadline = 15 * time.Second

// TestDeadLettersKeptAndReplayed: payment-debit answers 500 for two users
// for longer than the Trigger's retries, so their checkout.requested is
// dead-lettered and stored; shopctl lists it. One user's payment recovers
// before the saga's deadline (the sweep re-drives it: paid), the other's
// after (the saga fails and everything is given back). Then replaying every
// dead letter, twice, changes nothing, and the books balance.
func TestDeadLettersKeptAndReplayed(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	st, dir := startFaultyStack(t, ctx)
	c := shopclient.New(st.GatewayURL(), 16)
	shopctl := buildShopctl(t, dir)

	item, err := c.CreateItem(ctx, 5, 10)
	if err != nil {
		t.Fatal(err)
	}
	recovering, err := c.CreateUser(ctx, 100)
	if err != nil {
		t.Fatal(err)
	}
	failing, err := c.CreateUser(ctx, 100)
	if err != nil {
		t.Fatal(err)
	}
	before := shopclient.Before{Items: map[string]shopclient.Item{item: {Stock: 10, Price: 5}},
		Credit: map[string]int64{recovering: 100, failing: 100}}
	paidOrder, err := c.CreateOrder(ctx, recovering, shopclient.Line{ItemID: item, Quantity: 3})
	if err != nil {
		t.Fatal(err)
	}
	failedOrder, err := c.CreateOrder(ctx, failing, shopclient.Line{ItemID: item, Quantity: 2})
	if err != nil {
		t.Fatal(err)
	}

	payment := connect(t, ctx, st.DSN("payment"))
	breakPayment(t, ctx, payment, recovering, failing)

	// 1. Both checkouts wait while payment-debit answers 500.
	answers := map[string]chan int{paidOrder: make(chan int, 1), failedOrder: make(chan int, 1)}
	for order, ch := range answers {
		go func() {
			status, _ := c.Checkout(ctx, order)
			ch <- status
		}()
	}

	// 2. shopctl lists their dead letters once the retries ran out.
	waitFor(t, ctx, 30*time.Second, "both checkouts dead-lettered at payment-debit", func() bool {
		out := shopctl.ok(t, "deadletters", "list", "-o", "json")
		var letters []struct {
			Trigger   string          `json:"trigger"`
			ErrorCode int             `json:"error_code"`
			Event     json.RawMessage `json:"event"`
		}
		if err := json.Unmarshal([]byte(out), &letters); err != nil {
			t.Fatalf("deadletters list -o json: %v: %s", err, out)
		}
		found := map[string]bool{}
		for _, l := range letters {
			for order := range answers {
				if l.Trigger == "payment-debit-checkout-requested" && l.ErrorCode == 500 && bytes.Contains(l.Event, []byte(order)) {
					found[order] = true
				}
			}
		}
		return len(found) == 2
	})
	if table := shopctl.ok(t, "deadletters", "list"); !strings.Contains(table, "payment-debit-checkout-requested") ||
		!strings.Contains(table, "shop.checkout.requested") {
		t.Errorf("deadletters list table:\n%s", table)
	}
	if stuck := shopctl.ok(t, "saga", "stuck", "--older-than", "0s"); !strings.Contains(stuck, paidOrder) ||
		!strings.Contains(stuck, "payment-debit") {
		t.Errorf("saga stuck does not show the waiting checkout:\n%s", stuck)
	}

	// 3. One participant recovers before the deadline, the other after.
	repair(t, ctx, payment, recovering)
	if got := wait(t, ctx, answers[paidOrder]); got != http.StatusOK {
		t.Errorf("checkout of the recovered order answered %d, want 200", got)
	}
	if got := wait(t, ctx, answers[failedOrder]); got != http.StatusBadRequest {
		t.Errorf("checkout of the order whose payment stayed down answered %d, want 400", got)
	}
	repair(t, ctx, payment, failing)
	show := shopctl.ok(t, "saga", "show", failedOrder)
	t.Logf("shopctl saga show %s:\n%s", failedOrder, show)
	for _, want := range []string{"failed", "deadline", "tombstone", "released"} {
		if !strings.Contains(show, want) {
			t.Errorf("saga show %s lacks %q:\n%s", failedOrder, want, show)
		}
	}

	// 4. Replays change nothing, however often.
	snapshot := shopState(t, ctx, st)
	stored := shopctl.listed(t)
	letters, requested := len(stored), 0
	for _, l := range stored {
		if l.Type == "shop.checkout.requested" {
			requested++
		}
	}
	t.Logf("%d dead letters stored, %d of them checkout.requested", letters, requested)
	for round := 1; round <= 2; round++ {
		delivered := brokerDelivered(t, dir, "payment-debit-checkout-requested")
		out := shopctl.ok(t, "deadletters", "replay", "--all", "-o", "json")
		var sent []map[string]any
		if err := json.Unmarshal([]byte(out), &sent); err != nil || len(sent) != letters {
			t.Fatalf("replay %d: %d replayed (%v), want %d: %s", round, len(sent), err, letters, out)
		}
		// Proof the replays arrived: payment-debit took each one again.
		waitFor(t, ctx, 30*time.Second, "replays delivered to payment-debit", func() bool {
			return brokerDelivered(t, dir, "payment-debit-checkout-requested") >= delivered+float64(requested)
		})
		time.Sleep(2 * time.Second) // the replies' hop to the saga
		if got := shopState(t, ctx, st); got != snapshot {
			t.Errorf("replay %d changed the shop:\nbefore %s\nafter  %s", round, snapshot, got)
		}
		if n := len(shopctl.listed(t)); n != letters {
			t.Errorf("replay %d: %d dead letters, want still %d (a replay must not fail again)", round, n, letters)
		}
	}

	// 5. The audit stays consistent.
	audit, err := c.RunAudit(ctx, shopclient.AuditScope{Before: before, Orders: []string{paidOrder, failedOrder},
		Answers: map[string]int{paidOrder: http.StatusOK, failedOrder: http.StatusBadRequest}})
	if err != nil {
		t.Fatal(err)
	}
	if !audit.Consistent() || audit.PaidOrders != 1 || audit.CreditTaken != 15 || audit.StockValueTaken != 15 {
		t.Errorf("audit %+v, want consistent with one paid order of 15", audit)
	}
}

// startFaultyStack runs a stack of its own whose Triggers retry twice, so an
// event is dead-lettered in about a second (the manifests' ten retries take
// minutes).
func startFaultyStack(t *testing.T, ctx context.Context) (*stack.Stack, string) {
	t.Helper()
	manifest, err := os.ReadFile(filepath.Join("..", "knative", "base", "triggers.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	triggers := t.TempDir()
	quick := regexp.MustCompile(`retry: \d+`).ReplaceAll(manifest, []byte("retry: 2"))
	if err := os.WriteFile(filepath.Join(triggers, "triggers.yaml"), quick, 0o644); err != nil {
		t.Fatal(err)
	}
	dir, err := os.MkdirTemp("", "wdm-e2e-dl-")
	if err != nil {
		t.Fatal(err)
	}
	_ = os.Chmod(dir, 0o755) // the postgres user must reach its data folder
	t.Cleanup(func() { os.RemoveAll(dir) })
	logFile, err := os.Create(filepath.Join(os.TempDir(), "wdm-e2e-deadletter-stack.log"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { logFile.Close() })
	st, err := stack.Start(ctx, stack.Options{
		Dir:    dir,
		BinDir: filepath.Join(os.TempDir(), "wdm-e2e-bin"),
		Log:    slog.New(slog.NewJSONHandler(logFile, nil)),
		Env: []string{"TRIGGERS_DIR=" + triggers, "SAGA_STALL_AFTER=2s",
			"SAGA_DEADLINE=" + deadLetterDeadline.String()},
	})
	if err != nil {
		t.Fatalf("start stack: %v (logs in %s)", err, dir)
	}
	t.Cleanup(func() {
		if t.Failed() {
			copyLogs(dir)
		}
		st.Stop()
	})
	return st, dir
}

// breakPayment makes payment-debit fail (a 500) for users (faults.BreakPayment).
func breakPayment(t *testing.T, ctx context.Context, db *pgx.Conn, users ...string) {
	t.Helper()
	stmts := slices.Clone(faults.BreakPayment)
	for _, u := range users {
		stmts = append(stmts, faults.PaymentDown(u))
	}
	for _, sql := range stmts {
		if _, err := db.Exec(ctx, sql); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
}

func repair(t *testing.T, ctx context.Context, db *pgx.Conn, user string) {
	t.Helper()
	if _, err := db.Exec(ctx, faults.PaymentUp(user)); err != nil {
		t.Fatal(err)
	}
}

func connect(t *testing.T, ctx context.Context, dsn string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

// shopState is everything a replay could change: sagas, orders, both
// ledgers, stock and credit.
func shopState(t *testing.T, ctx context.Context, st *stack.Stack) string {
	t.Helper()
	var b strings.Builder
	for _, q := range []struct{ db, sql string }{
		{"order", `SELECT coalesce(json_agg(t ORDER BY id), '[]')::text FROM (SELECT id, order_id, status, stock, payment, reason, decided_at FROM sagas) t`},
		{"order", `SELECT coalesce(json_agg(t ORDER BY id), '[]')::text FROM orders t`},
		{"stock", `SELECT coalesce(json_agg(t ORDER BY saga_id), '[]')::text FROM stock_ledger t`},
		{"stock", `SELECT coalesce(json_agg(t ORDER BY id), '[]')::text FROM items t`},
		{"payment", `SELECT coalesce(json_agg(t ORDER BY saga_id), '[]')::text FROM payment_ledger t`},
		{"payment", `SELECT coalesce(json_agg(t ORDER BY id), '[]')::text FROM users t`},
	} {
		conn := connect(t, ctx, st.DSN(q.db))
		var v string
		if err := conn.QueryRow(ctx, q.sql).Scan(&v); err != nil {
			t.Fatalf("%s: %v", q.sql, err)
		}
		b.WriteString(v)
		b.WriteString("\n")
	}
	return b.String()
}

// brokerDelivered sums a Trigger's acked deliveries from the broker's /metrics.
func brokerDelivered(t *testing.T, dir, trigger string) float64 {
	t.Helper()
	e, err := stackfile.Read(dir)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(e.BrokerURL + "metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var sum float64
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "wdm_broker_delivered_total{") && strings.Contains(line, `trigger="`+trigger+`"`) {
			v, err := strconv.ParseFloat(line[strings.LastIndexByte(line, ' ')+1:], 64)
			if err != nil {
				t.Fatalf("metrics line %q: %v", line, err)
			}
			sum += v
		}
	}
	return sum
}

func waitFor(t *testing.T, ctx context.Context, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) || ctx.Err() != nil {
			t.Fatalf("timed out after %v waiting for %s", within, what)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

func wait(t *testing.T, ctx context.Context, ch chan int) int {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(deadLetterDeadline + 30*time.Second):
		t.Fatal("checkout did not answer")
	case <-ctx.Done():
		t.Fatal(ctx.Err())
	}
	return 0
}

// shopctlBinary runs the built cmd/shopctl with no settings but WDM_DIR,
// so it finds the stack by itself, as an operator's shell would.
type shopctlBinary struct{ path, dir string }

func buildShopctl(t *testing.T, dir string) shopctlBinary {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "shopctl")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/wdm-knative/webshop/cmd/shopctl").CombinedOutput(); err != nil {
		t.Fatalf("build shopctl: %v\n%s", err, out)
	}
	return shopctlBinary{path: bin, dir: dir}
}

func (s shopctlBinary) ok(t *testing.T, args ...string) string {
	t.Helper()
	cmd := exec.Command(s.path, args...)
	cmd.Env = []string{"WDM_DIR=" + s.dir, "PATH=" + os.Getenv("PATH")}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("shopctl %s: %v: %s", strings.Join(args, " "), err, stderr.String())
	}
	return string(out)
}

func (s shopctlBinary) listed(t *testing.T) []struct{ Type string } {
	t.Helper()
	var letters []struct{ Type string }
	out := s.ok(t, "deadletters", "list", "-o", "json", "--limit", "10000")
	if err := json.Unmarshal([]byte(out), &letters); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	return letters
}
