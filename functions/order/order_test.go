package order_test

import (
	"fmt"
	"log/slog"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"github.com/wdm-knative/webshop/functions/functiontest"
	"github.com/wdm-knative/webshop/functions/order"
	"github.com/wdm-knative/webshop/internal/api"
	"github.com/wdm-knative/webshop/local/testenv/testserver"
)

func TestOrderFlow(t *testing.T) {
	t.Parallel()
	s := newShop(t)
	user := s.newUser(t)
	apple, pear := s.newItem(t, 3), s.newItem(t, 5)
	id := s.newOrder(t, user)

	type line = order.Line
	type want struct {
		items []order.Line
		total int64
	}
	steps := []functiontest.Step[want]{
		{Name: "new order is empty", Method: "GET", Path: "/orders/find/" + id, Status: 200, Want: want{[]line{}, 0}},
		{Name: "add 2 apples (2024 form)", Method: "POST", Path: "/orders/addItem/" + id + "/" + apple + "/2", Status: 200,
			Want: want{[]line{{ItemID: apple, Quantity: 2}}, 6}},
		{Name: "add a pear (2023 form)", Method: "POST", Path: "/orders/addItem/" + id + "/" + pear, Status: 200,
			Want: want{sorted(line{ItemID: apple, Quantity: 2}, line{ItemID: pear, Quantity: 1}), 11}},
		{Name: "add apples again raises the quantity", Method: "POST", Path: "/orders/addItem/" + id + "/" + apple + "/3", Status: 200,
			Want: want{sorted(line{ItemID: apple, Quantity: 5}, line{ItemID: pear, Quantity: 1}), 20}},
		{Name: "remove one apple", Method: "DELETE", Path: "/orders/removeItem/" + id + "/" + apple, Status: 200,
			Want: want{sorted(line{ItemID: apple, Quantity: 4}, line{ItemID: pear, Quantity: 1}), 17}},
		{Name: "remove the last pear (POST)", Method: "POST", Path: "/orders/removeItem/" + id + "/" + pear, Status: 200,
			Want: want{[]line{{ItemID: apple, Quantity: 4}}, 12}},
		{Name: "remove an item not in the order", Method: "DELETE", Path: "/orders/removeItem/" + id + "/" + pear, Status: 400,
			Want: want{[]line{{ItemID: apple, Quantity: 4}}, 12}},
		{Name: "add an unknown item", Method: "POST", Path: "/orders/addItem/" + id + "/nope/1", Status: 400,
			Want: want{[]line{{ItemID: apple, Quantity: 4}}, 12}},
		{Name: "add zero", Method: "POST", Path: "/orders/addItem/" + id + "/" + apple + "/0", Status: 400,
			Want: want{[]line{{ItemID: apple, Quantity: 4}}, 12}},
	}
	functiontest.RunSteps(t, s.order.URL, steps, func(t *testing.T, want want) {
		o := s.find(t, id)
		if !reflect.DeepEqual(o.Items, want.items) || o.TotalCost != want.total || o.UserID != user || o.Paid {
			t.Fatalf("order = %+v, want items %v total %d", o, want.items, want.total)
		}
	})

	t.Run("find answers the API's shape", func(t *testing.T) {
		body := must(t, "GET", s.order.URL+"/orders/find/"+id)
		want := map[string]any{"order_id": id, "paid": false, "user_id": user, "total_cost": 12.0,
			"items": []any{[]any{apple, 4.0}}, "status": "open"}
		if !reflect.DeepEqual(body, want) {
			t.Fatalf("find = %v, want %v", body, want)
		}
	})
	t.Run("remove", func(t *testing.T) {
		must(t, "DELETE", s.order.URL+"/orders/remove/"+id)
		if code, _ := call(t, "GET", s.order.URL+"/orders/find/"+id); code != 404 {
			t.Fatalf("find after remove = %d, want 404", code)
		}
		if n := s.count(t, `SELECT count(*) FROM order_items`); n != 0 {
			t.Fatalf("%d order lines left", n)
		}
	})
}

func sorted(lines ...order.Line) []order.Line {
	if lines[0].ItemID > lines[1].ItemID {
		lines[0], lines[1] = lines[1], lines[0]
	}
	return lines
}

func TestCreate(t *testing.T) {
	t.Parallel()
	s := newShop(t)
	user := s.newUser(t)
	a, b := s.newOrder(t, user), s.newOrder(t, user)
	if a == b {
		t.Fatalf("two orders got ID %q", a)
	}
	if o := s.find(t, a); o.UserID != user || o.TotalCost != 0 || o.Status != order.StatusOpen {
		t.Fatalf("new order = %+v", o)
	}
	if code, body := call(t, "POST", s.order.URL+"/orders/create/nobody"); code != 400 || body["error"] == nil {
		t.Fatalf("create for unknown user = %d %v, want 400", code, body)
	}
	if n := s.count(t, `SELECT count(*) FROM orders`); n != 2 {
		t.Fatalf("%d orders, want 2", n)
	}
}

// TestClosedOrdersRefuseChanges: once checking out or paid, an order's items
// and existence are fixed (400, nothing changes).
func TestClosedOrdersRefuseChanges(t *testing.T) {
	t.Parallel()
	for _, status := range []string{order.StatusCheckingOut, order.StatusPaid} {
		t.Run(status, func(t *testing.T) {
			s := newShop(t)
			id, item := s.newOrderOf(t, 4, 2)
			s.setStatus(t, id, status)
			for _, req := range []struct{ method, path string }{
				{"POST", "/orders/addItem/" + id + "/" + item + "/1"},
				{"POST", "/orders/addItem/" + id + "/" + item},
				{"DELETE", "/orders/removeItem/" + id + "/" + item},
				{"DELETE", "/orders/remove/" + id},
			} {
				code, body := call(t, req.method, s.order.URL+req.path)
				if code != 400 || body["error"] == nil {
					t.Fatalf("%s %s = %d %v, want 400", req.method, req.path, code, body)
				}
				o := s.find(t, id)
				if len(o.Items) != 1 || o.Items[0].Quantity != 2 || o.TotalCost != 8 || o.Status != status {
					t.Fatalf("after %s %s: order = %+v", req.method, req.path, o)
				}
				if o.Paid != (status == order.StatusPaid) {
					t.Fatalf("paid = %v with status %s", o.Paid, status)
				}
			}
		})
	}
}

// TestDependencyDown: when stock or payment cannot answer, the order
// function answers 503 and changes nothing.
func TestDependencyDown(t *testing.T) {
	t.Parallel()
	s := newShop(t)
	user := s.newUser(t)
	item := s.newItem(t, 2)
	id := s.newOrder(t, user)
	down := httptest.NewServer(nil)
	down.Close() // a URL where nothing listens
	h := order.NewHandlers(s.order.DB, order.NewStockClient(down.URL, api.NewHTTPClient()),
		order.NewPaymentClient(down.URL, api.NewHTTPClient()), slog.New(slog.DiscardHandler))
	srv := testserver.Serve(t, h.Operations())

	for _, req := range []struct{ method, path string }{
		{"POST", "/orders/create/" + user},
		{"POST", "/orders/addItem/" + id + "/" + item + "/1"},
	} {
		code, body := call(t, req.method, srv.URL+req.path)
		if code != 503 || body["error"] == nil || strings.Contains(fmt.Sprint(body["error"]), "127.0.0.1") {
			t.Fatalf("%s %s = %d %v, want 503 naming no address", req.method, req.path, code, body)
		}
	}
	if n := s.count(t, `SELECT count(*) FROM orders`); n != 1 {
		t.Fatalf("%d orders, want 1", n)
	}
	if o := s.find(t, id); len(o.Items) != 0 || o.TotalCost != 0 {
		t.Fatalf("order changed: %+v", o)
	}
}

// TestOrderBadInput covers API.md's Errors section for orders: each request
// gets a 4xx with a JSON error and leaves the orders as they were.
func TestOrderBadInput(t *testing.T) {
	t.Parallel()
	s := newShop(t)
	id, item := s.newOrderOf(t, 7, 2)
	long := strings.Repeat("o", 129)
	tests := []functiontest.Step[struct{}]{
		{Name: "quantity non-integer", Method: "POST", Path: "/orders/addItem/" + id + "/" + item + "/two", Status: 400},
		{Name: "quantity zero", Method: "POST", Path: "/orders/addItem/" + id + "/" + item + "/0", Status: 400},
		{Name: "quantity negative", Method: "POST", Path: "/orders/addItem/" + id + "/" + item + "/-1", Status: 400},
		{Name: "quantity past int64", Method: "POST", Path: "/orders/addItem/" + id + "/" + item + "/9223372036854775808", Status: 400},
		{Name: "total would overflow int64", Method: "POST", Path: "/orders/addItem/" + id + "/" + item + "/9223372036854775807", Status: 400},
		{Name: "unknown item", Method: "POST", Path: "/orders/addItem/" + id + "/nope/1", Status: 400},
		{Name: "unknown order", Method: "POST", Path: "/orders/addItem/nope/" + item + "/1", Status: 404},
		{Name: "item ID over 128 bytes", Method: "POST", Path: "/orders/addItem/" + id + "/" + long + "/1", Status: 400},
		{Name: "order ID over 128 bytes", Method: "GET", Path: "/orders/find/" + long, Status: 400},
		{Name: "order ID with NUL", Method: "GET", Path: "/orders/find/a%00", Status: 400},
		{Name: "user ID with control character", Method: "POST", Path: "/orders/create/u%09", Status: 400},
		{Name: "user ID over 128 bytes", Method: "POST", Path: "/orders/create/" + long, Status: 400},
		{Name: "unknown user", Method: "POST", Path: "/orders/create/nobody", Status: 400},
		{Name: "find unknown", Method: "GET", Path: "/orders/find/nope", Status: 404},
		{Name: "remove item from unknown order", Method: "DELETE", Path: "/orders/removeItem/nope/" + item, Status: 404},
		{Name: "remove item not in order", Method: "DELETE", Path: "/orders/removeItem/" + id + "/other", Status: 400},
		{Name: "remove item with bad ID", Method: "DELETE", Path: "/orders/removeItem/" + id + "/%FF", Status: 400},
		{Name: "remove unknown order", Method: "DELETE", Path: "/orders/remove/nope", Status: 404},
		{Name: "remove with POST", Method: "POST", Path: "/orders/remove/" + id, Status: 405},
		{Name: "batch n non-integer", Method: "POST", Path: "/orders/batch_init/x/1/1/1", Status: 400},
		{Name: "batch no items to draw from", Method: "POST", Path: "/orders/batch_init/10/0/1/1", Status: 400},
		{Name: "batch no users to draw from", Method: "POST", Path: "/orders/batch_init/10/1/0/1", Status: 400},
		{Name: "batch negative price", Method: "POST", Path: "/orders/batch_init/10/1/1/-1", Status: 400},
		{Name: "batch total past int64", Method: "POST", Path: "/orders/batch_init/10/1/1/9223372036854775807", Status: 400},
		{Name: "unknown route", Method: "GET", Path: "/orders/list", Status: 404},
		{Name: "addItem missing item", Method: "POST", Path: "/orders/addItem/" + id, Status: 404},
		{Name: "find with POST", Method: "POST", Path: "/orders/find/" + id, Status: 405},
	}
	functiontest.RunSteps(t, s.order.URL, tests, func(t *testing.T, _ struct{}) {
		o := s.find(t, id)
		if len(o.Items) != 1 || o.Items[0].Quantity != 2 || o.TotalCost != 14 {
			t.Fatalf("order changed: %+v", o)
		}
		if n := s.count(t, `SELECT count(*) FROM orders`); n != 1 {
			t.Fatalf("%d orders, want 1", n)
		}
	})
}

// TestAddItemConcurrently adds to one order from 50 goroutines: the row
// lock serialises them, so no addition is lost.
func TestAddItemConcurrently(t *testing.T) {
	t.Parallel()
	s := newShop(t)
	items := []string{s.newItem(t, 1), s.newItem(t, 10)}
	id := s.newOrder(t, s.newUser(t))
	bursts := []functiontest.Burst[struct{}]{{Name: "add 2 of one of two items, 50 times", N: 50, Method: "POST",
		Path:     func(i int) string { return "/orders/addItem/" + id + "/" + items[i%2] + "/2" },
		Statuses: map[int]int{200: 50}}}
	functiontest.RunBursts(t, s.order.URL, bursts, func(t *testing.T, _ struct{}) {
		o := s.find(t, id)
		if len(o.Items) != 2 || o.Items[0].Quantity != 50 || o.Items[1].Quantity != 50 || o.TotalCost != 25*2*1+25*2*10 {
			t.Fatalf("order = %+v", o)
		}
	})
}

func TestOrderBatchInit(t *testing.T) {
	t.Parallel()
	s := newShop(t)
	functiontest.BatchInit(t, s.order.URL+"/orders/batch_init/100000/50/20/4")
	checks := []struct {
		name string
		sql  string
		want int64
	}{
		{name: "orders", sql: `SELECT count(*) FROM orders`, want: 100000},
		{name: "units", sql: `SELECT sum(quantity) FROM order_items`, want: 200000},
		{name: "orders costing 2 units", sql: `SELECT count(*) FROM orders WHERE total_cost = 8 AND status = 'open'`, want: 100000},
		{name: "orders whose lines add up", sql: `
			SELECT count(*) FROM orders o
			WHERE o.total_cost = (SELECT sum(quantity * unit_price) FROM order_items i WHERE i.order_id = o.id)`, want: 100000},
		{name: "users outside 0..19", sql: `SELECT count(*) FROM orders WHERE user_id::int NOT BETWEEN 0 AND 19`, want: 0},
		{name: "items outside 0..49", sql: `SELECT count(*) FROM order_items WHERE item_id::int NOT BETWEEN 0 AND 49`, want: 0},
		{name: "distinct users drawn", sql: `SELECT count(DISTINCT user_id) FROM orders`, want: 20},
	}
	for _, c := range checks {
		if got := s.count(t, c.sql); got != c.want {
			t.Errorf("%s = %d, want %d", c.name, got, c.want)
		}
	}
	if o := s.find(t, "99999"); o.TotalCost != 8 || len(o.Items) == 0 {
		t.Fatalf("order 99999 = %+v", o)
	}

	// Run again over a paid order: it is overwritten, open and consistent.
	s.setStatus(t, "3", "paid")
	must(t, "POST", s.order.URL+"/orders/batch_init/10/1/1/5")
	o := s.find(t, "3")
	if o.Status != "open" || o.TotalCost != 10 || o.UserID != "0" || len(o.Items) != 1 || o.Items[0].ItemID != "0" || o.Items[0].Quantity != 2 {
		t.Fatalf("order 3 after second batch_init = %+v", o)
	}
	if n := s.count(t, `SELECT count(*) FROM orders`); n != 100000 {
		t.Fatalf("%d orders after second batch_init", n)
	}
}

// TestRemoveConcurrently removes one order from 20 goroutines at once: the
// DELETE re-checks the row on its newest version, so exactly one removes it
// (with its lines); each other gets 404 (it came after) or 400 (it waited on
// the row lock, and its snapshot still held the order), never a 200 or a 5xx.
func TestRemoveConcurrently(t *testing.T) {
	t.Parallel()
	s := newShop(t)
	id, _ := s.newOrderOf(t, 3, 2)
	got := functiontest.Race(t, 20, "DELETE", func(int) string { return s.order.URL + "/orders/remove/" + id })
	if got[200] != 1 || got[200]+got[400]+got[404] != 20 {
		t.Fatalf("20 removes at once = statuses %v, want one 200 and the rest 400 or 404", got)
	}
	left := functiontest.Int(t, s.order.DB, `SELECT (SELECT count(*) FROM orders WHERE id = $1) + (SELECT count(*) FROM order_items WHERE order_id = $1)`, id)
	if left != 0 {
		t.Fatalf("%d rows of the removed order left", left)
	}
}
