package payment_test

import (
	"testing"

	"github.com/wdm-knative/webshop/functions/functiontest"
	"github.com/wdm-knative/webshop/local/testenv"
	"github.com/wdm-knative/webshop/local/testenv/testserver"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// paymentServer is the payment operations over HTTP on a fresh, migrated database.
type paymentServer struct{ *testserver.Domain }

func newPaymentServer(t *testing.T) paymentServer {
	t.Helper()
	return paymentServer{testserver.Payment(t)}
}

// call sends a request and decodes its JSON answer.
var call = testenv.CallJSON

// must is call that fails the test unless the answer is 200.
var must = testenv.MustJSON

// credit reads a user's credit straight from the database.
func (s paymentServer) credit(t testing.TB, id string) int64 {
	t.Helper()
	return functiontest.Int(t, s.DB, `SELECT credit FROM users WHERE id = $1`, id)
}
