package order_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"testing"

	"github.com/wdm-knative/webshop/functions/functiontest"
	"github.com/wdm-knative/webshop/functions/order"
	"github.com/wdm-knative/webshop/local/testenv"
	"github.com/wdm-knative/webshop/local/testenv/testserver"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// shop is the three domains over HTTP, each on its own fresh database, wired
// to each other as through the gateway.
type shop struct {
	order, stock, payment *testserver.Domain
}

func newShop(t *testing.T) *shop {
	t.Helper()
	s := &shop{stock: testserver.Stock(t), payment: testserver.Payment(t)}
	s.order = testserver.Order(t, s.stock, s.payment, nil)
	return s
}

// call sends a request and decodes its JSON answer.
var call = testenv.CallJSON

// must is call that fails the test unless the answer is 200.
var must = testenv.MustJSON

func (s *shop) newUser(t testing.TB) string {
	t.Helper()
	return functiontest.NewUser(t, s.payment.URL, 0)
}

func (s *shop) newItem(t testing.TB, price int64) string {
	t.Helper()
	return functiontest.NewItem(t, s.stock.URL, price, 0)
}

func (s *shop) newOrder(t testing.TB, user string) string {
	t.Helper()
	return functiontest.NewOrder(t, s.order.URL, user, nil)
}

// newOrderOf is a new user's order holding quantity of a new item at price:
// the open order the tests of refused changes start from.
func (s *shop) newOrderOf(t testing.TB, price, quantity int64) (id, item string) {
	t.Helper()
	item = s.newItem(t, price)
	id = s.newOrder(t, s.newUser(t))
	must(t, "POST", fmt.Sprintf("%s/orders/addItem/%s/%s/%d", s.order.URL, id, item, quantity))
	return id, item
}

// find reads an order through the API, decoded into the API's type.
func (s *shop) find(t testing.TB, id string) order.Order {
	t.Helper()
	resp, err := http.Get(s.order.URL + "/orders/find/" + id)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("find %q = %d", id, resp.StatusCode)
	}
	var o order.Order
	if err := json.NewDecoder(resp.Body).Decode(&o); err != nil {
		t.Fatal(err)
	}
	return o
}

func (s *shop) setStatus(t testing.TB, id, status string) {
	t.Helper()
	functiontest.Exec(t, s.order.DB, `UPDATE orders SET status = $2 WHERE id = $1`, id, status)
}

func (s *shop) count(t testing.TB, sql string) int64 {
	t.Helper()
	return functiontest.Int(t, s.order.DB, sql)
}
