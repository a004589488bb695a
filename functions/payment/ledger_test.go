package payment

import (
	"fmt"
	"log/slog"
	"testing"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/wdm-knative/webshop/functions/functiontest"
	"github.com/wdm-knative/webshop/internal/eventhttp"
	"github.com/wdm-knative/webshop/internal/operation"
	"github.com/wdm-knative/webshop/schemas"
	"github.com/wdm-knative/webshop/schemas/schematest"
)

// fixture is the payment event operations on a database of their own.
type fixture struct{ *functiontest.Events }

func newFixture(t *testing.T) fixture {
	t.Helper()
	return fixture{functiontest.NewEvents(t, "payment", func(db *pgxpool.Pool, log *slog.Logger) map[string]eventhttp.Handler {
		return NewHandlers(db, log).EventOperations()
	})}
}

func (f fixture) user(id string, credit int64) {
	f.T.Helper()
	functiontest.Exec(f.T, f.DB, `INSERT INTO users (id, credit) VALUES ($1, $2)`, id, credit)
}

func (f fixture) credit(id string) int64 {
	f.T.Helper()
	return functiontest.Int(f.T, f.DB, `SELECT credit FROM users WHERE id = $1`, id)
}

func requested(saga, user string, amount int64) event.Event {
	return schematest.Requested(schemas.CheckoutRequested{SagaID: saga, OrderID: "o-" + saga, UserID: user,
		Items: []schemas.Item{{ItemID: "i", Quantity: 1}}, TotalCost: amount})
}

func compensate(saga, user string) event.Event {
	return schematest.Compensate(schemas.CheckoutCompensate{SagaID: saga, OrderID: "o-" + saga, UserID: user, Reason: schemas.ReasonInsufficientStock})
}

func TestDebit(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name       string
		user       string
		amount     int64
		wantType   string
		wantReason schemas.Reason
		wantCredit int64
	}{
		{"enough credit", "u", 7, schemas.TypePaymentDebited, "", 3},
		{"exactly the credit", "u", 10, schemas.TypePaymentDebited, "", 0},
		{"zero cost", "u", 0, schemas.TypePaymentDebited, "", 10},
		{"short of credit", "u", 11, schemas.TypePaymentRejected, schemas.ReasonInsufficientCredit, 10},
		{"unknown user", "nobody", 1, schemas.TypePaymentRejected, schemas.ReasonUnknownUser, 10},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t)
			f.user("u", 10)
			in := requested("s1", c.user, c.amount)
			first := f.Call(operation.PaymentDebit, in)
			if first.Type() != c.wantType {
				t.Fatalf("reply %s, want %s", first.Type(), c.wantType)
			}
			if c.wantReason != "" {
				r, _ := schemas.DecodeAs[schemas.PaymentRejected](first)
				if r.Reason != c.wantReason {
					t.Errorf("reason %s, want %s", r.Reason, c.wantReason)
				}
			}
			again := f.Call(operation.PaymentDebit, in)
			if again.ID() != first.ID() || string(again.Data()) != string(first.Data()) {
				t.Errorf("redelivery answered %s, first %s", again, first)
			}
			if got := f.credit("u"); got != c.wantCredit {
				t.Errorf("credit %d, want %d", got, c.wantCredit)
			}
		})
	}
}

func TestRefund(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name       string
		debit      int64 // < 0: no debit before the refund
		wantAmount int64
		wantLate   string
	}{
		{"gives back a debit", 4, 4, schemas.TypePaymentDebited},
		{"rejected debit gives back nothing", 50, 0, schemas.TypePaymentRejected},
		{"compensation first leaves a tombstone", -1, 0, schemas.TypePaymentRejected},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t)
			f.user("u", 10)
			amount := c.debit
			if amount < 0 {
				amount = 4
			} else {
				f.Call(operation.PaymentDebit, requested("s1", "u", amount))
			}
			ref := f.Call(operation.PaymentRefund, compensate("s1", "u"))
			r, err := schemas.DecodeAs[schemas.PaymentRefunded](ref)
			if err != nil || r.Amount != c.wantAmount {
				t.Errorf("refunded %+v (%v), want amount %d", r, err, c.wantAmount)
			}
			if again := f.Call(operation.PaymentRefund, compensate("s1", "u")); string(again.Data()) != string(ref.Data()) {
				t.Errorf("duplicate refund answered %s, first %s", again.Data(), ref.Data())
			}
			late := f.Call(operation.PaymentDebit, requested("s1", "u", amount))
			if late.Type() != c.wantLate {
				t.Errorf("debit after refund answered %s, want %s", late.Type(), c.wantLate)
			}
			if c.debit < 0 {
				if r, _ := schemas.DecodeAs[schemas.PaymentRejected](late); r.Reason != schemas.ReasonCompensated {
					t.Errorf("late debit reason %s", r.Reason)
				}
			}
			if got := f.credit("u"); got != 10 {
				t.Errorf("credit %d, want all of it back (10)", got)
			}
		})
	}
}

func TestDebitConcurrentOnOneUser(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.user("u", 10)
	replies := functiontest.ReplyTypes(t, f.Ops[operation.PaymentDebit], 40, func(i int) event.Event {
		return requested(fmt.Sprintf("s%d", i), "u", 1)
	})
	if debited := replies[schemas.TypePaymentDebited]; debited != 10 || f.credit("u") != 0 {
		t.Errorf("debited %d (want 10), credit left %d (want 0)", replies[schemas.TypePaymentDebited], f.credit("u"))
	}
}

func TestMalformedEventsArePermanent(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	schematest.CheckPermanent(t, f.Ops, schemas.TypeCheckoutCompensate, map[string]any{"saga_id": ""})
}

// TestStepRaces: payment_debit and payment_refund survive every way the
// broker can deliver them (schematest.StepRaces).
func TestStepRaces(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	schematest.RunStepRaces(t, func(t *testing.T, i int) (step, undo schematest.Delivery, taken func() int64, once int64) {
		user, saga := fmt.Sprintf("u%d-%s", i, t.Name()), fmt.Sprintf("s%d-%s", i, t.Name())
		f.user(user, 100)
		return schematest.Delivery{Handler: f.Ops[operation.PaymentDebit], In: requested(saga, user, 7)},
			schematest.Delivery{Handler: f.Ops[operation.PaymentRefund], In: compensate(saga, user)},
			func() int64 { return 100 - f.credit(user) }, 7
	})
}
