package deadletter

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/binding"
	"github.com/cloudevents/sdk-go/v2/event"
	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/wdm-knative/webshop/internal/eventhttp"
	"github.com/wdm-knative/webshop/internal/metrics"
	"github.com/wdm-knative/webshop/internal/metrics/metricstest"
	"github.com/wdm-knative/webshop/local/testenv/shopdb"
	"github.com/wdm-knative/webshop/schemas"
)

type fixture struct {
	pool    *pgxpool.Pool
	store   *Store
	handler http.Handler
	reg     *prometheus.Registry
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	pool := shopdb.Pool(t, "order", 4)
	reg := metrics.NewRegistry()
	store := NewStore(pool)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	h := NewEvents(store, time.Hour, metrics.NewDeadLetters(reg), log)
	return &fixture{pool: pool, store: store, reg: reg,
		handler: WithTrigger(eventhttp.New("dead-letter", h.Handle, log))}
}

// post delivers ev as the broker does (binary mode) to uri, e.g.
// "/events/dead-letter?trigger=x", and returns the status.
func (f *fixture) post(t *testing.T, uri string, ev event.Event) int {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, uri, nil)
	if err := cehttp.WriteRequest(binding.WithForceBinary(context.Background()), binding.ToMessage(&ev), req); err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	f.handler.ServeHTTP(rec, req)
	return rec.Code
}

func deadLetter(id string) event.Event {
	ev := event.New()
	ev.SetID(id)
	ev.SetSource("/webshop/order-checkout")
	ev.SetType("shop.checkout.requested")
	ev.SetSubject("saga-1")
	_ = ev.SetData("application/json", map[string]string{"saga_id": "saga-1"})
	ev.SetExtension(eventhttp.ExtErrorDest, "http://stock-reserve.webshop.svc.cluster.local/events/stock-reserve")
	ev.SetExtension(eventhttp.ExtErrorCode, "500")
	ev.SetExtension(eventhttp.ExtErrorData, base64.StdEncoding.EncodeToString([]byte("temporary failure")))
	return ev
}

func TestStore(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	const uri = "/events/dead-letter?trigger=stock-reserve-checkout-requested"
	if got := f.post(t, uri, deadLetter("e1")); got != http.StatusNoContent {
		t.Fatalf("status = %d, want 204", got)
	}
	list, err := f.store.List(context.Background(), 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 {
		t.Fatalf("%d dead letters, want 1", len(list))
	}
	l := list[0]
	var kept event.Event
	if err := json.Unmarshal(l.Event, &kept); err != nil {
		t.Fatalf("stored event: %v", err)
	}
	checks := map[string]bool{
		"event id":           l.EventID == "e1",
		"type":               l.Type == "shop.checkout.requested",
		"subject":            l.Subject == "saga-1",
		"trigger from uri":   l.Trigger == "stock-reserve-checkout-requested",
		"error code":         l.ErrorCode == 500,
		"error dest":         strings.HasSuffix(l.ErrorDest, "/events/stock-reserve"),
		"error data decoded": l.ErrorData == "temporary failure",
		"whole event kept":   strings.Contains(string(kept.Data()), `"saga-1"`) && kept.Extensions()[eventhttp.ExtErrorCode] == "500",
		"arrival time":       time.Since(l.ReceivedAt) < time.Minute,
	}
	for what, ok := range checks {
		if !ok {
			t.Errorf("stored letter: want %s; got %+v", what, l)
		}
	}
	if n := metricstest.Gather(t, f.reg)["wdm_dead_letters_stored_total"]; n != 1 {
		t.Errorf("stored counter = %v, want 1", n)
	}
}

// TestIdempotent: the same failure delivered again is one row (and one
// count); the same event failing on another Trigger is another.
func TestIdempotent(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	cases := []struct {
		name, uri, id string
		wantRows      int
	}{
		{"first", "/events/dead-letter?trigger=a", "e1", 1},
		{"redelivered", "/events/dead-letter?trigger=a", "e1", 1},
		{"same event, other trigger", "/events/dead-letter?trigger=b", "e1", 2},
		{"other event", "/events/dead-letter?trigger=a", "e2", 3},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := f.post(t, c.uri, deadLetter(c.id)); got != http.StatusNoContent {
				t.Fatalf("status = %d", got)
			}
			list, err := f.store.List(context.Background(), 100)
			if err != nil {
				t.Fatal(err)
			}
			if len(list) != c.wantRows {
				t.Errorf("rows = %d, want %d", len(list), c.wantRows)
			}
			if n := metricstest.Gather(t, f.reg)["wdm_dead_letters_stored_total"]; n != float64(c.wantRows) {
				t.Errorf("stored counter = %v, want %d", n, c.wantRows)
			}
		})
	}
}

// TestPruneOnPing: a ping deletes what is older than the retention, and
// nothing newer.
func TestPruneOnPing(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	for _, id := range []string{"old", "new"} {
		if got := f.post(t, "/events/dead-letter?trigger=a", deadLetter(id)); got != http.StatusNoContent {
			t.Fatalf("status = %d", got)
		}
	}
	if _, err := f.pool.Exec(ctx, `UPDATE dead_letters SET received_at = now() - interval '2 hours' WHERE event_id = 'old'`); err != nil {
		t.Fatal(err)
	}
	ping := event.New()
	ping.SetID("ping-1")
	ping.SetSource("/apis/v1/namespaces/webshop/pingsources/saga-sweep")
	ping.SetType(schemas.TypePing)
	if got := f.post(t, "/events/dead-letter", ping); got != http.StatusNoContent {
		t.Fatalf("ping status = %d", got)
	}
	list, err := f.store.List(ctx, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || list[0].EventID != "new" {
		t.Errorf("after pruning: %+v, want only the new one", list)
	}
}

// TestReplayBookkeeping: Get and MarkReplayed find a row by id and refuse
// an unknown one with ErrNotFound.
func TestReplayBookkeeping(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	if got := f.post(t, "/events/dead-letter?trigger=a", deadLetter("e1")); got != http.StatusNoContent {
		t.Fatalf("status = %d", got)
	}
	list, _ := f.store.List(ctx, 1)
	id := list[0].ID
	for range 2 {
		if err := f.store.MarkReplayed(ctx, id); err != nil {
			t.Fatal(err)
		}
	}
	l, err := f.store.Get(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if l.Replays != 2 || l.ReplayedAt == nil {
		t.Errorf("after two replays: replays=%d replayed_at=%v", l.Replays, l.ReplayedAt)
	}
	if _, err := f.store.Get(ctx, id+1000); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get(unknown) = %v, want ErrNotFound", err)
	}
	if err := f.store.MarkReplayed(ctx, id+1000); !errors.Is(err, ErrNotFound) {
		t.Errorf("MarkReplayed(unknown) = %v, want ErrNotFound", err)
	}
}

// TestMalformed: what is not a CloudEvent is refused with a 400 and stores
// nothing.
func TestMalformed(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	req := httptest.NewRequest(http.MethodPost, "/events/dead-letter?trigger=a", strings.NewReader("{}"))
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	f.handler.ServeHTTP(rec, req)
	if rec.Code != http.StatusBadRequest {
		t.Errorf("status = %d, want 400", rec.Code)
	}
	if list, _ := f.store.List(context.Background(), 10); len(list) != 0 {
		t.Errorf("stored %d rows from a malformed request", len(list))
	}
}
