package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/wdm-knative/webshop/e2e/consistency"
	"github.com/wdm-knative/webshop/internal/eventhttp"
	"github.com/wdm-knative/webshop/internal/shopclient"
	"github.com/wdm-knative/webshop/schemas"
	"github.com/wdm-knative/webshop/schemas/schematest"
)

// outcomes is the consumer the shop knows nothing of: a server in the test
// process that the broker delivers every outcome event to, through
// Triggers of its own in an extra folder (as a cluster's new consumer adds
// Triggers to the Broker). Started before the shared stack.
var outcomes *outcomeSubscriber

// delivered is one copy of an outcome event as the subscriber got it.
type delivered struct {
	id, typ, saga, order string
	data                 []byte
}

// outcomeSubscriber records every delivery of shop.checkout.paid and
// shop.checkout.failed, duplicates included.
type outcomeSubscriber struct {
	srv *httptest.Server

	mu       sync.Mutex
	bySaga   map[string][]delivered
	problems []string // events that are not valid outcome events
}

// startOutcomeSubscriber serves the subscriber and writes its Triggers (one
// per outcome type: a Trigger's filter matches one exact type) into a new
// folder under dir, which it returns for stack.Options.TriggerDirs.
func startOutcomeSubscriber(dir string) (*outcomeSubscriber, string, error) {
	s := &outcomeSubscriber{bySaga: map[string][]delivered{}}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	triggers := filepath.Join(dir, "consumer-triggers")
	if err := os.MkdirAll(triggers, 0o755); err != nil {
		return nil, "", err
	}
	var b bytes.Buffer
	for _, t := range []struct{ name, typ string }{{"paid", schemas.TypeCheckoutPaid}, {"failed", schemas.TypeCheckoutFailed}} {
		fmt.Fprintf(&b, "---\napiVersion: eventing.knative.dev/v1\nkind: Trigger\nmetadata:\n  name: e2e-outcomes-%s\n"+
			"spec:\n  broker: shop\n  filter:\n    attributes:\n      type: %s\n  subscriber:\n    uri: %s/\n"+
			"  delivery:\n    retry: 10\n    backoffPolicy: exponential\n    backoffDelay: PT0.1S\n", t.name, t.typ, s.srv.URL)
	}
	if err := os.WriteFile(filepath.Join(triggers, "outcomes.yaml"), b.Bytes(), 0o644); err != nil {
		return nil, "", err
	}
	return s, triggers, nil
}

// serve takes one delivery. A bad event is recorded and acknowledged: a
// retry would bring the same bad event again.
func (s *outcomeSubscriber) serve(w http.ResponseWriter, r *http.Request) {
	e, err := eventhttp.ReadBinary(r.Header, r.Body)
	if err == nil {
		err = schematest.Validate(e)
	}
	var d struct {
		OrderID string `json:"order_id"`
	}
	if err == nil {
		err = json.Unmarshal(e.Data(), &d)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		s.problems = append(s.problems, fmt.Sprintf("delivery %s: %v", r.Header.Get("Ce-Id"), err))
	} else {
		s.bySaga[e.Subject()] = append(s.bySaga[e.Subject()],
			delivered{id: e.ID(), typ: e.Type(), saga: e.Subject(), order: d.OrderID, data: e.Data()})
	}
	w.WriteHeader(http.StatusNoContent)
}

// copies returns what was delivered for a saga so far.
func (s *outcomeSubscriber) copies(saga string) []delivered {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]delivered(nil), s.bySaga[saga]...)
}

// forOrders returns every delivery that names one of the orders.
func (s *outcomeSubscriber) forOrders(orders map[string]bool) []delivered {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []delivered
	for _, ds := range s.bySaga {
		for _, d := range ds {
			if orders[d.order] {
				out = append(out, d)
			}
		}
	}
	return out
}

// decidedSaga is a saga of the workload that reached paid or failed.
type decidedSaga struct{ id, order, status string }

// checkOutcomeEvents fails the test unless the subscriber got, for every
// decided saga of the workload, exactly one outcome event (by id; copies
// must be identical) of the saga's outcome, nothing for undecided sagas,
// and outcomes that agree with the HTTP answers: a 200 with a paid event
// for its order, a 4xx with a failed one and no paid one. Deliveries are
// asynchronous, so it waits up to 30 s for the missing ones.
func checkOutcomeEvents(t *testing.T, w consistency.Workload, out *consistency.Outcome) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	decided := decidedSagas(t, w.Orders)
	for {
		missing := 0
		for _, sg := range decided {
			if len(outcomes.copies(sg.id)) == 0 {
				missing++
			}
		}
		if missing == 0 {
			break
		}
		if ctx.Err() != nil {
			t.Errorf("%d of %d decided sagas have no outcome event after 30 s", missing, len(decided))
			break
		}
		time.Sleep(250 * time.Millisecond)
	}

	wantType := map[string]string{"paid": schemas.TypeCheckoutPaid, "failed": schemas.TypeCheckoutFailed}
	known := map[string]bool{}
	paidOrders, failedOrders := map[string]bool{}, map[string]bool{}
	copies := 0
	for _, sg := range decided {
		known[sg.id] = true
		ds := outcomes.copies(sg.id)
		copies += len(ds)
		for _, d := range ds {
			first := ds[0]
			switch {
			case d.id != schemas.OutcomeID(sg.id):
				t.Errorf("saga %s: outcome id %q, want %q", sg.id, d.id, schemas.OutcomeID(sg.id))
			case d.typ != wantType[sg.status]:
				t.Errorf("saga %s is %s but its outcome event is %s", sg.id, sg.status, d.typ)
			case d.typ != first.typ || !bytes.Equal(d.data, first.data):
				t.Errorf("saga %s: copies of one outcome differ: %s %s and %s %s", sg.id, first.typ, first.data, d.typ, d.data)
			case d.order != sg.order:
				t.Errorf("saga %s: outcome names order %s, the saga's is %s", sg.id, d.order, sg.order)
			}
		}
		if len(ds) > 0 && ds[0].typ == schemas.TypeCheckoutPaid {
			paidOrders[sg.order] = true
		} else if len(ds) > 0 {
			failedOrders[sg.order] = true
		}
	}
	orders := map[string]bool{}
	for _, o := range w.Orders {
		orders[o] = true
	}
	for _, d := range outcomes.forOrders(orders) {
		if !known[d.saga] {
			t.Errorf("outcome %s %s for saga %s, which is not decided", d.typ, d.id, d.saga)
		}
	}
	for order, code := range out.Answers {
		switch {
		case code == http.StatusOK && !paidOrders[order]:
			t.Errorf("order %s answered 200 without a %s event", order, schemas.TypeCheckoutPaid)
		case shopclient.Refused(code) && (!failedOrders[order] || paidOrders[order]):
			t.Errorf("order %s answered %d; failed event %v, paid event %v", order, code, failedOrders[order], paidOrders[order])
		}
	}
	outcomes.mu.Lock()
	for _, p := range outcomes.problems {
		t.Error(p)
	}
	outcomes.mu.Unlock()
	t.Logf("%d decided sagas, %d outcome deliveries (%d duplicates)", len(decided), copies, copies-len(decided))
}

// decidedSagas reads the workload's paid and failed sagas from the order database.
func decidedSagas(t *testing.T, orders []string) []decidedSaga {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, shop.DSN("order"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	rows, err := conn.Query(ctx, `SELECT id, order_id, status FROM sagas
		WHERE order_id = ANY($1) AND status IN ('paid', 'failed')`, orders)
	if err != nil {
		t.Fatal(err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (decidedSaga, error) {
		var s decidedSaga
		return s, r.Scan(&s.id, &s.order, &s.status)
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}
