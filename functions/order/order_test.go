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
			item := s.newItem(t, 4)
			id := s.newOrder(t, s.newUser(t))
			must(t, "POST", s.order.URL+"/orders/addItem/"+id+"/"+item+"/2")
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
	h := order.NewHandlers(order.NewStore(s.order.DB), order.NewStockClient(down.URL, api.NewHTTPClient()),
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
