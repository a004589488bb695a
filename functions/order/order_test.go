package order_test

import (
	"fmt"
	"log/slog"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"github.com/wdm-knative/webshop/functions/order"
	"github.com/wdm-knative/webshop/internal/api"
	"github.com/wdm-knative/webshop/local/testenv/testserver"
)

func TestOrderFlow(t *testing.T) {
	t.Parallel()
	s := newShop(t)
	user := s.newUser(t)
	apple, pear := s.newItem(t, "3"), s.newItem(t, "5")
	id := s.newOrder(t, user)

	type line = order.Line
	steps := []struct {
		name      string
		method    string
		path      string
		want      int
		wantItems []order.Line
		wantTotal int64
	}{
		{name: "new order is empty", method: "GET", path: "/orders/find/" + id, want: 200, wantItems: []line{}},
		{name: "add 2 apples (2024 form)", method: "POST", path: "/orders/addItem/" + id + "/" + apple + "/2", want: 200,
			wantItems: []line{{ItemID: apple, Quantity: 2}}, wantTotal: 6},
		{name: "add a pear (2023 form)", method: "POST", path: "/orders/addItem/" + id + "/" + pear, want: 200,
			wantItems: sorted(line{ItemID: apple, Quantity: 2}, line{ItemID: pear, Quantity: 1}), wantTotal: 11},
		{name: "add apples again raises the quantity", method: "POST", path: "/orders/addItem/" + id + "/" + apple + "/3", want: 200,
			wantItems: sorted(line{ItemID: apple, Quantity: 5}, line{ItemID: pear, Quantity: 1}), wantTotal: 20},
		{name: "remove one apple", method: "DELETE", path: "/orders/removeItem/" + id + "/" + apple, want: 200,
			wantItems: sorted(line{ItemID: apple, Quantity: 4}, line{ItemID: pear, Quantity: 1}), wantTotal: 17},
		{name: "remove the last pear (POST)", method: "POST", path: "/orders/removeItem/" + id + "/" + pear, want: 200,
			wantItems: []line{{ItemID: apple, Quantity: 4}}, wantTotal: 12},
		{name: "remove an item not in the order", method: "DELETE", path: "/orders/removeItem/" + id + "/" + pear, want: 400,
			wantItems: []line{{ItemID: apple, Quantity: 4}}, wantTotal: 12},
		{name: "add an unknown item", method: "POST", path: "/orders/addItem/" + id + "/nope/1", want: 400,
			wantItems: []line{{ItemID: apple, Quantity: 4}}, wantTotal: 12},
		{name: "add zero", method: "POST", path: "/orders/addItem/" + id + "/" + apple + "/0", want: 400,
			wantItems: []line{{ItemID: apple, Quantity: 4}}, wantTotal: 12},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			code, body := call(t, st.method, s.order.URL+st.path)
			if code != st.want {
				t.Fatalf("%s %s = %d %v, want %d", st.method, st.path, code, body, st.want)
			}
			if code >= 400 && body["error"] == nil {
				t.Fatalf("error answer without \"error\": %v", body)
			}
			o := s.find(t, id)
			if !reflect.DeepEqual(o.Items, st.wantItems) || o.TotalCost != st.wantTotal || o.UserID != user || o.Paid {
				t.Fatalf("order = %+v, want items %v total %d", o, st.wantItems, st.wantTotal)
			}
		})
	}

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
			item := s.newItem(t, "4")
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
	item := s.newItem(t, "2")
	id := s.newOrder(t, user)
	down := httptest.NewServer(nil)
	down.Close() // a URL where nothing listens
	h := order.NewHandlers(order.NewStore(s.orderDB), order.NewStockClient(down.URL, api.NewHTTPClient()),
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
