package function

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/wdm-knative/webshop/internal/metrics/metricstest"
	"github.com/wdm-knative/webshop/local/testenv"
)

// TestOperationGauges: the process serving saga-sweep exports the stuck
// sagas counted at scrape time; the one serving dead-letter stores what the
// broker posts to its deadLetterSink uri and counts it. Neither exports the
// other's series.
func TestOperationGauges(t *testing.T) {
	dsn := testenv.NewDatabase(t)
	sweep, _ := started(t, Config{Function: "saga-sweep", OrderDSN: dsn, Sink: "http://127.0.0.1:1/",
		SagaStallAfter: 5 * time.Second, SagaDeadline: time.Minute})
	dead, deadSrv := started(t, Config{Function: "dead-letter", OrderDSN: dsn, DeadLetterRetention: time.Hour})
	stuck := metricstest.Key("wdm_saga_stuck", "older_than", "5s")

	if got := metricstest.Scrape(t, http.HandlerFunc(sweep.Handle)); got[stuck] != 0 || got["wdm_saga_stuck_scrape_error"] != 0 {
		t.Errorf("fresh database: %s = %v, scrape error %v", stuck, got[stuck], got["wdm_saga_stuck_scrape_error"])
	}
	conn, err := pgx.Connect(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(context.Background(), `INSERT INTO sagas (id, order_id, user_id, items, total_cost, created_at)
		VALUES ('old', 'o1', 'u1', '[]', 0, now() - interval '1 minute'), ('new', 'o2', 'u1', '[]', 0, now())`); err != nil {
		t.Fatal(err)
	}
	if got := metricstest.Scrape(t, http.HandlerFunc(sweep.Handle)); got[stuck] != 1 {
		t.Errorf("one saga running for a minute: %s = %v, want 1", stuck, got[stuck])
	}

	if code := postEvent(t, deadSrv.URL+"/events/dead-letter?trigger=payment-debit-checkout-requested", "e1",
		"shop.checkout.requested", `{}`, map[string]string{"Ce-Knativeerrorcode": "500"}); code != http.StatusNoContent {
		t.Fatalf("dead letter: status %d, want 204", code)
	}
	var trigger string
	if err := conn.QueryRow(context.Background(), `SELECT trigger FROM dead_letters WHERE event_id = 'e1'`).Scan(&trigger); err != nil ||
		trigger != "payment-debit-checkout-requested" {
		t.Errorf("stored trigger %q (%v)", trigger, err)
	}
	got := metricstest.Scrape(t, http.HandlerFunc(dead.Handle))
	if got["wdm_dead_letters_stored_total"] != 1 {
		t.Errorf("wdm_dead_letters_stored_total = %v, want 1", got["wdm_dead_letters_stored_total"])
	}
	if _, ok := got[stuck]; ok {
		t.Errorf("the dead-letter process exports %s", stuck)
	}
	if _, ok := metricstest.Scrape(t, http.HandlerFunc(sweep.Handle))["wdm_dead_letters_stored_total"]; ok {
		t.Error("the saga-sweep process exports wdm_dead_letters_stored_total")
	}
}
