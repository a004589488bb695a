//go:build clustershop

package shop

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wdm-knative/webshop/cluster/internal/kube"
	"github.com/wdm-knative/webshop/e2e/faults"
	"github.com/wdm-knative/webshop/internal/shopclient"
)

// deadLetterTrigger is the Trigger whose subscriber the test breaks.
const deadLetterTrigger = "payment-debit-checkout-requested"

// TestDeadLettersKeptAndReplayed breaks payment-debit for one user (its
// ledger refuses the user's debits, so it answers 500) for longer than
// its Trigger's retries (10, exponential from 0.1 s: about 100 s). The
// in-memory channel's dispatcher then posts the event to the Trigger's
// deadLetterSink, the dead-letter Service, which keeps it, and shopctl,
// reached as docs/operations.md says (port-forwards to the databases and
// the broker's ingress), lists it. Meanwhile the saga fails at its
// deadline and the checkout answers 400 with everything given back. After
// the repair, every dead letter is replayed twice: the shop does not
// change, each letter counts two replays, and none is dead-lettered again
// within the Trigger's retry window.
func TestDeadLettersKeptAndReplayed(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	shopctl := shopctlThroughPortForwards(t, ctx)

	b := newBasket(t, 5, 10, 100, 2)
	it, u, order := b.item, b.user, b.order

	psql(t, ctx, "payment", append(slices.Clone(faults.BreakPayment), faults.PaymentDown(u.ID))...)
	t.Cleanup(func() { psql(t, context.Background(), "payment", faults.PaymentUp(u.ID)) })

	// The checkout waits for its saga, which fails at its deadline (240 s
	// here); the client gives up after 60 s, so it asks again, joining
	// the same saga, until it has an answer.
	answer := make(chan int, 1)
	go func() { answer <- checkoutUntilAnswered(ctx, order) }()

	var letter deadLetter
	err := kube.Poll(ctx, 6*time.Minute, 5*time.Second, func(context.Context) (bool, string, error) {
		for _, l := range shopctl.list(t) {
			if l.Trigger == deadLetterTrigger && l.ErrorCode == http.StatusInternalServerError && strings.Contains(string(l.Event), order) {
				letter = l
				return true, "", nil
			}
		}
		return false, "no dead letter of the checkout yet", nil
	})
	if err != nil {
		t.Fatalf("the checkout's event never reached the dead-letter Service: %v", err)
	}
	t.Logf("REPORT dead letter %d: %s at %s, error %d, stored %s", letter.ID, letter.Type, letter.Trigger, letter.ErrorCode, letter.ReceivedAt.Format(time.RFC3339))
	if table := shopctl.run(t, "deadletters", "list", "--limit", "10000"); !strings.Contains(table, deadLetterTrigger) || !strings.Contains(table, "shop.checkout.requested") {
		t.Errorf("deadletters list does not show it:\n%s", table)
	}
	if got := <-answer; got != http.StatusBadRequest {
		t.Fatalf("checkout while payment is down answered %d, want 400 (failed at the saga's deadline)", got)
	}

	// Recovery, then two replays of every dead letter.
	psql(t, ctx, "payment", faults.PaymentUp(u.ID))
	scope := shopclient.AuditScope{
		Before:  shopclient.Before{Items: map[string]shopclient.Item{it.ID: {Stock: 10, Price: 5}}, Credit: map[string]int64{u.ID: 100}},
		Orders:  []string{order},
		Answers: map[string]int{order: http.StatusBadRequest},
	}
	before := stateOf(t, ctx, order)
	stored := shopctl.list(t)
	for round := 1; round <= 2; round++ {
		var sent []json.RawMessage
		out := shopctl.run(t, "deadletters", "replay", "--all", "-o", "json")
		if err := json.Unmarshal([]byte(out), &sent); err != nil || len(sent) != len(stored) {
			t.Fatalf("replay %d: %d replayed (%v), want %d: %s", round, len(sent), err, len(stored), out)
		}
	}
	// A replay that failed again would be dead-lettered once its retries
	// ran out: wait them out, then nothing may have changed.
	time.Sleep(retryWindow(t))
	after := shopctl.list(t)
	if len(after) != len(stored) {
		t.Errorf("%d dead letters after the replays, want still %d: a replay failed again", len(after), len(stored))
	}
	for _, l := range after {
		if l.ID == letter.ID && l.Replays != 2 {
			t.Errorf("dead letter %d counts %d replays, want 2", l.ID, l.Replays)
		}
	}
	if got := stateOf(t, ctx, order); got != before {
		t.Errorf("the replays changed the shop:\nbefore %s\nafter  %s", before, got)
	}
	a, err := client.RunAudit(ctx, scope)
	if err != nil {
		t.Fatal(err)
	}
	if !a.Consistent() || a.PaidOrders != 0 || a.CreditTaken != 0 || a.StockValueTaken != 0 {
		t.Errorf("audit %+v, want consistent with nothing taken", a)
	}
}

// checkoutUntilAnswered checks out order until the shop answers with
// something other than a 5xx or a timeout, and returns that status. A 4xx
// comes with an error too (shopclient.StatusError): it is an answer.
func checkoutUntilAnswered(ctx context.Context, order string) int {
	for ctx.Err() == nil {
		if code, err := client.Checkout(ctx, order); !errors.Is(err, shopclient.ErrUnavailable) {
			return code
		}
	}
	return 0
}

// retryWindow is how long the broken Trigger keeps retrying an event,
// read from its delivery spec (exponential: backoffDelay * 2^i for each
// retry i), plus a minute for the deliveries' own time.
func retryWindow(t *testing.T) time.Duration {
	t.Helper()
	var tr struct {
		Spec struct {
			Delivery struct {
				Retry        int    `json:"retry"`
				BackoffDelay string `json:"backoffDelay"`
			} `json:"delivery"`
		} `json:"spec"`
	}
	if err := k.Get(context.Background(), &tr, "trigger", "-n", ns, deadLetterTrigger); err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`^PT([0-9.]+)S$`).FindStringSubmatch(tr.Spec.Delivery.BackoffDelay)
	if m == nil {
		t.Fatalf("backoffDelay %q: not PTnS", tr.Spec.Delivery.BackoffDelay)
	}
	delay, err := time.ParseDuration(m[1] + "s")
	if err != nil {
		t.Fatal(err)
	}
	var total time.Duration
	for i := range tr.Spec.Delivery.Retry {
		total += delay << i
	}
	return total + time.Minute
}

// stateOf is everything of the order that a replay could change: its
// sagas and both ledgers' rows for them, its item's stock and its user's
// credit.
func stateOf(t *testing.T, ctx context.Context, order string) string {
	t.Helper()
	o := "'" + strings.ReplaceAll(order, "'", "''") + "'"
	sagas := psql(t, ctx, "order", `SELECT coalesce(json_agg(s ORDER BY id), '[]') FROM (SELECT id, status, stock, payment, reason, decided_at FROM sagas WHERE order_id = `+o+`) s`)
	ids := psql(t, ctx, "order", `SELECT coalesce(string_agg(quote_literal(id), ','), 'NULL') FROM sagas WHERE order_id = `+o)
	var b strings.Builder
	b.WriteString(sagas)
	b.WriteString(psql(t, ctx, "order", `SELECT row_to_json(o) FROM orders o WHERE id = `+o))
	b.WriteString(psql(t, ctx, "stock", `SELECT coalesce(json_agg(l ORDER BY saga_id), '[]') FROM stock_ledger l WHERE saga_id IN (`+ids+`)`))
	b.WriteString(psql(t, ctx, "payment", `SELECT coalesce(json_agg(l ORDER BY saga_id), '[]') FROM payment_ledger l WHERE saga_id IN (`+ids+`)`))
	return b.String()
}

// psql runs statements in one of the shop's databases, in the Postgres
// pod, stopping at the first error, and returns what they printed.
func psql(t *testing.T, ctx context.Context, db string, stmts ...string) string {
	t.Helper()
	out, err := psqlIn(ctx, db, stmts...)
	if err != nil {
		t.Fatalf("psql %s: %v\n%s", db, err, strings.Join(stmts, ";\n"))
	}
	return out
}

// deadLetter is what the test reads of `shopctl deadletters list -o json`.
type deadLetter struct {
	ID         int64           `json:"id"`
	Type       string          `json:"type"`
	Trigger    string          `json:"trigger"`
	ErrorCode  int             `json:"error_code"`
	Event      json.RawMessage `json:"event"`
	ReceivedAt time.Time       `json:"received_at"`
	Replays    int             `json:"replays"`
}

// shopctl is cmd/shopctl built from the checkout, with the settings
// docs/operations.md derives from port-forwards.
type shopctl struct {
	bin string
	env []string
}

// shopctlThroughPortForwards builds shopctl and points it at the cluster
// as docs/operations.md says: kubectl port-forward to each database's
// Service (the DSN from its Secret, with the forwarded address) and to the
// Service behind the Broker's address, for replays (K_SINK).
func shopctlThroughPortForwards(t *testing.T, ctx context.Context) shopctl {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "shopctl")
	build := exec.Command("go", "build", "-o", bin, "./cmd/shopctl")
	build.Dir = repoRoot
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build shopctl: %v\n%s", err, out)
	}
	s := shopctl{bin: bin, env: []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}}
	for _, db := range []string{"order", "stock", "payment"} {
		raw, err := k.Run(ctx, nil, "get", "secret", "-n", ns, db+"-db-app", "-o", "jsonpath={.data.uri}")
		if err != nil {
			t.Fatal(err)
		}
		uri, err := base64.StdEncoding.DecodeString(string(raw))
		if err != nil {
			t.Fatal(err)
		}
		dsn, err := url.Parse(string(uri))
		if err != nil {
			t.Fatal(err)
		}
		dsn.Host = portForward(t, ns, "svc/"+db+"-db-rw", dsn.Port())
		s.env = append(s.env, strings.ToUpper(db)+"_DSN="+dsn.String())
	}
	raw, err := k.Run(ctx, nil, "get", "broker", "-n", ns, "shop", "-o", "jsonpath={.status.address.url}")
	if err != nil {
		t.Fatal(err)
	}
	sink, err := url.Parse(string(raw))
	if err != nil {
		t.Fatal(err)
	}
	labels := strings.Split(sink.Hostname(), ".") // SERVICE.NAMESPACE.svc.cluster.local
	if len(labels) < 3 || labels[2] != "svc" {
		t.Fatalf("broker address %s names no Service", sink)
	}
	sink.Host = portForward(t, labels[1], "svc/"+labels[0], "80")
	s.env = append(s.env, "K_SINK="+sink.String())
	return s
}

// portForward runs kubectl port-forward to target's port on a free port
// of 127.0.0.1 until the test ends, and returns that address.
func portForward(t *testing.T, namespace, target, port string) string {
	t.Helper()
	cmd := exec.Command(info.Kubectl, "--kubeconfig", info.Kubeconfig, "port-forward", "-n", namespace,
		"--address", "127.0.0.1", target, ":"+port)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	// "Forwarding from 127.0.0.1:43127 -> 5432"
	lines := bufio.NewScanner(out)
	if !lines.Scan() {
		t.Fatalf("port-forward %s/%s: no output", namespace, target)
	}
	m := regexp.MustCompile(`Forwarding from (127\.0\.0\.1:\d+) ->`).FindStringSubmatch(lines.Text())
	if m == nil {
		t.Fatalf("port-forward %s/%s: %q", namespace, target, lines.Text())
	}
	go func() {
		for lines.Scan() { // keep reading: "Handling connection for ..."
		}
	}()
	return m[1]
}

func (s shopctl) run(t *testing.T, args ...string) string {
	t.Helper()
	cmd := exec.Command(s.bin, args...)
	cmd.Env = s.env
	out, err := cmd.Output()
	if err != nil {
		var stderr []byte
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = ee.Stderr
		}
		t.Fatalf("shopctl %s: %v\n%s", strings.Join(args, " "), err, stderr)
	}
	return string(out)
}

func (s shopctl) list(t *testing.T) []deadLetter {
	t.Helper()
	var ls []deadLetter
	if out := s.run(t, "deadletters", "list", "--limit", "10000", "-o", "json"); json.Unmarshal([]byte(out), &ls) != nil {
		t.Fatalf("deadletters list -o json: %s", out)
	}
	return ls
}
