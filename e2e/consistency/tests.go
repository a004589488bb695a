package consistency

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/wdm-knative/webshop/internal/shopclient"
)

// Course runs the course's consistency test (CourseShape, all 1000 orders
// checked out at once) and asserts its figures: exactly 100 paid, stock 0,
// credit 900 left. With retry, a caller that gets a 5xx or no answer in
// time checks out again (and so joins the running saga) until it gets an
// answer, and the 5xx are reported; without, there must be none.
func Course(t testing.TB, c *shopclient.Client, retry bool) (Workload, *Outcome) {
	t.Helper()
	w := Build(t, c, CourseShape(), 1)
	out, a := checkOut(t, c, w, 1000, 1, retry)
	ok := 0
	for _, code := range out.Answers {
		if code == 200 {
			ok++
		}
	}
	if ok != 100 || a.PaidOrders != 100 {
		t.Errorf("%d checkouts answered 200 and %d orders are paid; want 100 and 100", ok, a.PaidOrders)
	}
	if a.StockValueTaken != 100 || a.CreditTaken != 100 {
		t.Errorf("stock taken %d, credit taken %d; want 100 each (stock 0, total credit 900)", a.StockValueTaken, a.CreditTaken)
	}
	return w, out
}

// ManyItemsTwice checks out a ManyItems workload of 600 orders, every order
// twice at once by 256 callers (one saga, one outcome), and asserts that
// every order got an answer, the audit is exact and the workload mixed
// successes and failures; retry as for Course.
func ManyItemsTwice(t testing.TB, c *shopclient.Client, retry bool) (Workload, *Outcome) {
	t.Helper()
	w := Build(t, c, ManyItems(600), 2)
	out, a := checkOut(t, c, w, 256, 2, retry)
	if a.PaidOrders == 0 || a.PaidOrders == len(w.Orders) {
		t.Errorf("%d of %d orders paid: the workload must mix successes and failures", a.PaidOrders, len(w.Orders))
	}
	return w, out
}

// checkOut checks every order of w out `times` over with `callers`
// clients within checkoutBudget, fails the test on lost answers (and on 5xx
// without retry), and audits the shop afterwards.
func checkOut(t testing.TB, c *shopclient.Client, w Workload, callers, times int, retry bool) (*Outcome, shopclient.Audit) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), checkoutBudget(retry))
	defer cancel()
	out := NewOutcome()
	CheckoutAll(ctx, c, out, w.Orders, callers, times, retry)
	unavailable(t, out, retry)
	answered(t, w, out)
	return out, Audit(t, c, w, out)
}

// checkoutBudget is how long the callers of a run may take. With retry
// they ask until every saga has ended, which on the local cluster may take
// its deadline (240 s) and a compensation: an audit while a saga still
// compensates would see a debit not yet refunded.
func checkoutBudget(retry bool) time.Duration {
	if retry {
		return 10 * time.Minute
	}
	return 3 * time.Minute
}

// answered fails the test unless every order of the run got an answer.
func answered(t testing.TB, w Workload, out *Outcome) {
	t.Helper()
	if len(out.Answers) != len(w.Orders) {
		t.Errorf("%d of %d orders got an answer", len(out.Answers), len(w.Orders))
	}
}

// unavailable fails the test on 5xx and lost answers, or with retry
// reports them.
func unavailable(t testing.TB, out *Outcome, retry bool) {
	t.Helper()
	switch {
	case out.Unavailable > 0 && !retry:
		t.Errorf("%d checkouts answered 5xx or failed without a fault, the first: %s", out.Unavailable, strings.Join(out.Errors, "; "))
	case out.Unavailable > 0:
		t.Logf("REPORT %d checkouts answered 5xx or not in time and were retried, the first: %s", out.Unavailable, strings.Join(out.Errors, "; "))
	}
}

// Count runs a SELECT count(*) query in one of the shop's databases (order,
// stock, payment): through pgx locally, through psql in the Postgres pod on
// a cluster.
type Count func(ctx context.Context, db, query string) (int, error)

// Running counts the sagas that are neither paid nor failed.
const Running = "SELECT count(*) FROM sagas WHERE status NOT IN ('paid', 'failed')"

// WaitSettled fails unless every saga reaches paid or failed within, and
// returns how long that took.
func WaitSettled(t testing.TB, count Count, within time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	for {
		running, err := count(ctx, "order", Running)
		if err == nil && running == 0 {
			return time.Since(start)
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%d sagas still running after %v (last error: %v)", running, within, err)
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// NoOrderPaidTwice checks the participants' ledgers and the sagas begun
// since (all when zero): at most one paid saga per order, no order debited
// by two sagas that were not refunded, and nothing held by a saga that
// failed. batch_init reuses order ids ("0".."n-1") for new orders, so a
// database that saw several of them holds older paid sagas of the same
// ids: since leaves those out.
func NoOrderPaidTwice(t testing.TB, count Count, since time.Time) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	begun := "created_at >= '" + since.UTC().Format(time.RFC3339Nano) + "'::timestamptz"
	checks := []struct{ db, query string }{
		{"order", "SELECT count(*) FROM (SELECT order_id FROM sagas WHERE status = 'paid' AND " + begun + " GROUP BY order_id HAVING count(*) > 1) twice"},
		{"payment", "SELECT count(*) FROM (SELECT order_id FROM payment_ledger WHERE state = 'debited' AND " + begun + " GROUP BY order_id HAVING count(*) > 1) twice"},
		// A saga that ended failed holds nothing: its debit and reservation were returned.
		{"order", "SELECT count(*) FROM sagas WHERE status = 'failed' AND (stock = 'taken' OR payment = 'taken') AND " + begun},
	}
	for _, c := range checks {
		n, err := count(ctx, c.db, c.query)
		if err != nil {
			t.Fatalf("%s: %v", c.query, err)
		}
		if n != 0 {
			t.Errorf("%d rows break: %s", n, c.query)
		}
	}
}
