package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/cloudevents/sdk-go/v2/event"
	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/wdm-knative/webshop/local/testenv"
	"github.com/wdm-knative/webshop/local/testenv/shopdb"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// shop is a test's three databases, seeded, and an ingress that records
// what replay posts.
type shop struct {
	order, stock, payment *pgxpool.Pool
	ingress               *httptest.Server
	mu                    sync.Mutex
	posted                []event.Event
}

func newShop(t *testing.T) *shop {
	t.Helper()
	s := &shop{order: shopdb.Pool(t, "order", 2), stock: shopdb.Pool(t, "stock", 2), payment: shopdb.Pool(t, "payment", 2)}
	s.ingress = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ev, err := cehttp.NewEventFromHTTPRequest(r)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		s.mu.Lock()
		s.posted = append(s.posted, *ev)
		s.mu.Unlock()
		w.WriteHeader(http.StatusAccepted)
	}))
	t.Cleanup(s.ingress.Close)
	ctx := context.Background()
	exec := func(p *pgxpool.Pool, sql string) {
		t.Helper()
		if _, err := p.Exec(ctx, sql); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	exec(s.order, `INSERT INTO orders (id, user_id, status, total_cost) VALUES
		('o-paid', 'u1', 'paid', 10), ('o-open', 'u1', 'open', 0), ('o-stuck', 'u2', 'checking_out', 5)`)
	exec(s.order, `INSERT INTO sagas (id, order_id, user_id, items, total_cost, status, stock, payment, created_at, updated_at, decided_at) VALUES
		('s-paid', 'o-paid', 'u1', '[{"item_id":"i1","quantity":2,"unit_price":5}]', 10, 'paid', 'taken', 'taken', now() - interval '1 hour', now() - interval '1 hour', now() - interval '1 hour'),
		('s-stuck', 'o-stuck', 'u2', '[{"item_id":"i2","quantity":1,"unit_price":5}]', 5, 'pending', 'taken', 'waiting', now() - interval '1 minute', now(), NULL)`)
	exec(s.stock, `INSERT INTO stock_ledger (saga_id, order_id, state, items) VALUES
		('s-paid', 'o-paid', 'reserved', '[{"item_id":"i1","quantity":2}]'), ('s-stuck', 'o-stuck', 'reserved', '[]')`)
	exec(s.payment, `INSERT INTO payment_ledger (saga_id, order_id, user_id, state, amount) VALUES ('s-paid', 'o-paid', 'u1', 'debited', 10)`)
	exec(s.order, `INSERT INTO dead_letters (event_id, source, type, subject, trigger, error_dest, error_code, error_data, event) VALUES
		('e1', '/webshop/saga', 'shop.checkout.requested', 's-stuck', 'payment-debit-checkout-requested',
		 'http://payment/events/payment-debit', 500, 'temporary failure',
		 '{"specversion":"1.0","id":"e1","source":"/webshop/saga","type":"shop.checkout.requested","subject":"s-stuck",
		   "datacontenttype":"application/json","data":{"saga_id":"s-stuck"},"knativeerrorcode":"500","knativeerrordest":"http://payment/events/payment-debit"}')`)
	return s
}

// env points shopctl at the shop through the functions' variables.
func (s *shop) env(t *testing.T) {
	t.Setenv("ORDER_DSN", s.order.Config().ConnString())
	t.Setenv("STOCK_DSN", s.stock.Config().ConnString())
	t.Setenv("PAYMENT_DSN", s.payment.Config().ConnString())
	t.Setenv("K_SINK", s.ingress.URL)
	t.Setenv("WDM_DIR", t.TempDir())
}

// state is everything a command could change, to prove it changed nothing.
func (s *shop) state(t *testing.T) string {
	t.Helper()
	var b strings.Builder
	for _, q := range []struct {
		pool *pgxpool.Pool
		sql  string
	}{
		{s.order, `SELECT coalesce(json_agg(t ORDER BY id), '[]')::text FROM sagas t`},
		{s.order, `SELECT coalesce(json_agg(t ORDER BY id), '[]')::text FROM orders t`},
		{s.order, `SELECT coalesce(json_agg(t ORDER BY id), '[]')::text FROM dead_letters t`},
		{s.stock, `SELECT coalesce(json_agg(t ORDER BY saga_id), '[]')::text FROM stock_ledger t`},
		{s.payment, `SELECT coalesce(json_agg(t ORDER BY saga_id), '[]')::text FROM payment_ledger t`},
	} {
		var v string
		if err := q.pool.QueryRow(context.Background(), q.sql).Scan(&v); err != nil {
			t.Fatal(err)
		}
		b.WriteString(v)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	b.WriteString(strings.Repeat("posted;", len(s.posted)))
	return b.String()
}

func shopctl(args ...string) (code int, stdout, stderr string) {
	var out, errOut bytes.Buffer
	code = run(context.Background(), args, &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestReads(t *testing.T) {
	s := newShop(t)
	s.env(t)
	cases := []struct {
		name     string
		args     []string
		wantOut  []string
		wantNot  []string
		wantJSON func(t *testing.T, out []byte)
	}{
		{name: "saga show", args: []string{"saga", "show", "o-paid"},
			wantOut: []string{"order o-paid (status paid)", "s-paid", "paid", "reserved", "debited", "decided", "after 0s"}},
		{name: "saga show of a stuck one says what it waits for", args: []string{"saga", "show", "o-stuck"},
			wantOut: []string{"pending", "payment: shop.payment.debited|rejected", "(none: payment never saw these sagas)"}},
		{name: "saga show json, flag after the id", args: []string{"saga", "show", "o-paid", "-o", "json"},
			wantJSON: func(t *testing.T, out []byte) {
				var r sagaReport
				if err := json.Unmarshal(out, &r); err != nil {
					t.Fatal(err)
				}
				if len(r.Sagas) != 1 || r.Sagas[0].Status != "paid" || len(r.StockLedger) != 1 || r.PaymentLedger[0].Amount != 10 {
					t.Errorf("report = %+v", r)
				}
			}},
		{name: "saga stuck", args: []string{"saga", "stuck", "--older-than", "10s"},
			wantOut: []string{"o-stuck", "s-stuck", "pending"}, wantNot: []string{"o-paid"}},
		{name: "saga stuck, none that old", args: []string{"saga", "stuck", "--older-than", "2m"},
			wantOut: []string{"no saga has been running for longer than 2m0s"}},
		{name: "saga stuck json", args: []string{"saga", "stuck", "-o", "json", "--older-than=30s"},
			wantJSON: func(t *testing.T, out []byte) {
				var ss []map[string]any
				if err := json.Unmarshal(out, &ss); err != nil {
					t.Fatal(err)
				}
				if len(ss) != 1 || ss[0]["order_id"] != "o-stuck" || len(ss[0]["waits_for"].([]any)) != 1 {
					t.Errorf("stuck = %v", ss)
				}
			}},
		{name: "deadletters list", args: []string{"deadletters", "list"},
			wantOut: []string{"shop.checkout.requested", "payment-debit-checkout-requested", "500", "temporary failure"}},
		{name: "deadletters list json", args: []string{"deadletters", "list", "-o=json"},
			wantJSON: func(t *testing.T, out []byte) {
				var ls []map[string]any
				if err := json.Unmarshal(out, &ls); err != nil {
					t.Fatal(err)
				}
				if len(ls) != 1 || ls[0]["event_id"] != "e1" || ls[0]["trigger"] != "payment-debit-checkout-requested" {
					t.Errorf("list = %v", ls)
				}
			}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := s.state(t)
			code, out, errOut := shopctl(c.args...)
			if code != exitOK {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			for _, w := range c.wantOut {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
			for _, w := range c.wantNot {
				if strings.Contains(out, w) {
					t.Errorf("output has %q:\n%s", w, out)
				}
			}
			if c.wantJSON != nil {
				c.wantJSON(t, []byte(out))
			}
			if after := s.state(t); after != before {
				t.Errorf("a read changed the shop:\nbefore %s\nafter  %s", before, after)
			}
		})
	}
}

// TestBadInput: each mistake gets a clear message and its exit status,
// and changes nothing.
func TestBadInput(t *testing.T) {
	s := newShop(t)
	cases := []struct {
		name     string
		env      map[string]string
		args     []string
		wantCode int
		wantErr  string
	}{
		{name: "unknown order", args: []string{"saga", "show", "o-nope"}, wantCode: exitNotFound, wantErr: `unknown order "o-nope"`},
		{name: "order never checked out", args: []string{"saga", "show", "o-open"}, wantCode: exitNotFound, wantErr: "never checked out"},
		{name: "order id with a control character", args: []string{"saga", "show", "o\x01"}, wantCode: exitUsage, wantErr: "malformed order id"},
		{name: "order id too long", args: []string{"saga", "show", strings.Repeat("x", 129)}, wantCode: exitUsage, wantErr: "malformed order id"},
		{name: "no order id", args: []string{"saga", "show"}, wantCode: exitUsage, wantErr: "one ORDER_ID"},
		{name: "bad output", args: []string{"saga", "show", "o-paid", "-o", "yaml"}, wantCode: exitUsage, wantErr: "want table or json"},
		{name: "bad duration", args: []string{"saga", "stuck", "--older-than", "soon"}, wantCode: exitUsage, wantErr: "older-than"},
		{name: "unknown command", args: []string{"saga", "delete"}, wantCode: exitUsage, wantErr: "unknown command"},
		{name: "malformed dead-letter id", args: []string{"deadletters", "replay", "abc"}, wantCode: exitUsage, wantErr: "malformed dead-letter id"},
		{name: "negative dead-letter id", args: []string{"deadletters", "replay", "-5"}, wantCode: exitUsage, wantErr: ""},
		{name: "id and --all", args: []string{"deadletters", "replay", "1", "--all"}, wantCode: exitUsage, wantErr: "one ID or --all"},
		{name: "unknown dead letter", args: []string{"deadletters", "replay", "999"}, wantCode: exitNotFound, wantErr: "no dead letter 999"},
		{name: "unreachable database", env: map[string]string{"ORDER_DSN": "postgres://postgres@127.0.0.1:1/order?connect_timeout=2"},
			args: []string{"saga", "show", "o-paid"}, wantCode: exitFailed, wantErr: "cannot reach the order database at 127.0.0.1:1/order (ORDER_DSN"},
		{name: "unreachable database on replay", env: map[string]string{"ORDER_DSN": "postgres://postgres@127.0.0.1:1/order?connect_timeout=2"},
			args: []string{"deadletters", "replay", "--all"}, wantCode: exitFailed, wantErr: "cannot reach the order database"},
		{name: "no broker to replay to", env: map[string]string{"K_SINK": "not a url"},
			args: []string{"deadletters", "replay", "--all"}, wantCode: exitUsage, wantErr: "K_SINK"},
		{name: "nothing configured and no stack", env: map[string]string{"ORDER_DSN": "", "STOCK_DSN": "", "PAYMENT_DSN": "", "K_SINK": ""},
			args: []string{"deadletters", "list"}, wantCode: exitFailed, wantErr: "no running stack"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s.env(t)
			for k, v := range c.env {
				t.Setenv(k, v)
			}
			before := s.state(t)
			code, _, errOut := shopctl(c.args...)
			if code != c.wantCode {
				t.Errorf("exit %d, want %d; stderr: %s", code, c.wantCode, errOut)
			}
			if !strings.Contains(errOut, c.wantErr) || !strings.HasPrefix(errOut, "shopctl: ") {
				t.Errorf("stderr %q, want a shopctl message with %q", errOut, c.wantErr)
			}
			if strings.Contains(errOut, "password") {
				t.Errorf("message leaks a password: %s", errOut)
			}
			if after := s.state(t); after != before {
				t.Errorf("bad input changed the shop:\nbefore %s\nafter  %s", before, after)
			}
		})
	}
}

// TestReplay: replay posts the original event (without the broker's
// error extensions) to K_SINK, and may be repeated.
func TestReplay(t *testing.T) {
	s := newShop(t)
	s.env(t)
	var id int64
	if err := s.order.QueryRow(context.Background(), `SELECT id FROM dead_letters WHERE event_id = 'e1'`).Scan(&id); err != nil {
		t.Fatal(err)
	}
	for i, args := range [][]string{{"deadletters", "replay", "--all"}, {"deadletters", "replay", "-o", "json", strconv.FormatInt(id, 10)}} {
		code, out, errOut := shopctl(args...)
		if code != exitOK {
			t.Fatalf("replay %d: exit %d: %s", i+1, code, errOut)
		}
		if !strings.Contains(out, "e1") {
			t.Errorf("replay %d output lacks the event: %s", i+1, out)
		}
	}
	s.mu.Lock()
	posted := append([]event.Event(nil), s.posted...)
	s.mu.Unlock()
	if len(posted) != 2 {
		t.Fatalf("posted %d events, want 2", len(posted))
	}
	for _, ev := range posted {
		if ev.ID() != "e1" || ev.Type() != "shop.checkout.requested" || ev.Subject() != "s-stuck" || !strings.Contains(string(ev.Data()), "s-stuck") {
			t.Errorf("replayed %v, want the original e1", ev)
		}
		for name := range ev.Extensions() {
			if strings.HasPrefix(name, "knativeerror") {
				t.Errorf("replayed event carries %s", name)
			}
		}
	}
	var replays int
	if err := s.order.QueryRow(context.Background(), `SELECT replays FROM dead_letters WHERE id = $1`, id).Scan(&replays); err != nil {
		t.Fatal(err)
	}
	if replays != 2 {
		t.Errorf("replays = %d, want 2", replays)
	}
}

// TestFindsTheLocalStack: with no settings, shopctl reads the running
// stack's .wdm/stack.json, from a subfolder of the checkout too.
func TestFindsTheLocalStack(t *testing.T) {
	s := newShop(t)
	root := t.TempDir()
	stackJSON, _ := json.Marshal(map[string]any{
		"order_dsn": s.order.Config().ConnString(), "stock_dsn": s.stock.Config().ConnString(),
		"payment_dsn": s.payment.Config().ConnString(), "broker_url": s.ingress.URL, "pid": os.Getpid(),
	})
	if err := os.MkdirAll(filepath.Join(root, ".wdm"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, ".wdm", "stack.json"), stackJSON, 0o600); err != nil {
		t.Fatal(err)
	}
	sub := filepath.Join(root, "cmd", "shopctl")
	if err := os.MkdirAll(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"ORDER_DSN", "STOCK_DSN", "PAYMENT_DSN", "K_SINK", "WDM_DIR"} {
		t.Setenv(k, "")
	}
	os.Unsetenv("WDM_DIR") // its default, .wdm
	t.Chdir(sub)
	code, out, errOut := shopctl("saga", "show", "o-paid")
	if code != exitOK || !strings.Contains(out, "s-paid") {
		t.Fatalf("exit %d, out %s, err %s", code, out, errOut)
	}
}
