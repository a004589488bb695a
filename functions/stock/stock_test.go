package stock_test

import (
	"context"
	"strings"
	"testing"

	"github.com/wdm-knative/webshop/functions/functiontest"
)

func TestStockOperations(t *testing.T) {
	t.Parallel()
	s := newStockServer(t)
	id := functiontest.NewItem(t, s.URL, 10, 0)

	steps := []functiontest.Step[int64]{ // Want: the item's stock after the step
		{Name: "find new item", Method: "GET", Path: "/stock/find/" + id, Status: 200, Want: 0,
			Body: map[string]any{"stock": 0.0, "price": 10.0}},
		{Name: "add", Method: "POST", Path: "/stock/add/" + id + "/5", Status: 200, Want: 5,
			Body: map[string]any{"item_id": id, "stock": 5.0}},
		{Name: "subtract some", Method: "POST", Path: "/stock/subtract/" + id + "/3", Status: 200, Want: 2,
			Body: map[string]any{"stock": 2.0}},
		{Name: "subtract more than left", Method: "POST", Path: "/stock/subtract/" + id + "/3", Status: 400, Want: 2},
		{Name: "subtract exactly what is left", Method: "POST", Path: "/stock/subtract/" + id + "/2", Status: 200, Want: 0},
		{Name: "subtract from empty", Method: "POST", Path: "/stock/subtract/" + id + "/1", Status: 400, Want: 0},
		{Name: "find after", Method: "GET", Path: "/stock/find/" + id, Status: 200, Want: 0,
			Body: map[string]any{"stock": 0.0, "price": 10.0}},
		{Name: "find unknown", Method: "GET", Path: "/stock/find/nope", Status: 404, Want: 0},
		{Name: "add to unknown", Method: "POST", Path: "/stock/add/nope/1", Status: 404, Want: 0},
		{Name: "subtract from unknown", Method: "POST", Path: "/stock/subtract/nope/1", Status: 404, Want: 0},
	}
	functiontest.RunSteps(t, s.URL, steps, s.stockIs(id))
}

func TestCreateGivesDistinctIDs(t *testing.T) {
	t.Parallel()
	s := newStockServer(t)
	a, b := functiontest.NewItem(t, s.URL, 0, 0), functiontest.NewItem(t, s.URL, 0, 0)
	if a == "" || a == b {
		t.Fatalf("IDs %q and %q", a, b)
	}
}

// TestStockBadInput covers API.md's Errors section for stock: each request
// gets a 4xx with a JSON error and leaves the item as it was.
func TestStockBadInput(t *testing.T) {
	t.Parallel()
	s := newStockServer(t)
	id := functiontest.NewItem(t, s.URL, 10, 5)
	long := strings.Repeat("x", 129)
	tests := []functiontest.Step[struct{}]{
		{Name: "non-integer amount", Method: "POST", Path: "/stock/add/" + id + "/abc", Status: 400},
		{Name: "float amount", Method: "POST", Path: "/stock/add/" + id + "/1.5", Status: 400},
		{Name: "negative add", Method: "POST", Path: "/stock/add/" + id + "/-1", Status: 400},
		{Name: "negative subtract", Method: "POST", Path: "/stock/subtract/" + id + "/-1", Status: 400},
		{Name: "zero add", Method: "POST", Path: "/stock/add/" + id + "/0", Status: 400},
		{Name: "zero subtract", Method: "POST", Path: "/stock/subtract/" + id + "/0", Status: 400},
		{Name: "plus sign", Method: "POST", Path: "/stock/add/" + id + "/+1", Status: 400},
		{Name: "amount past int64", Method: "POST", Path: "/stock/add/" + id + "/9223372036854775808", Status: 400},
		{Name: "subtract past int64", Method: "POST", Path: "/stock/subtract/" + id + "/99999999999999999999", Status: 400},
		{Name: "stock would overflow int64", Method: "POST", Path: "/stock/add/" + id + "/9223372036854775807", Status: 400},
		{Name: "subtract more than stock", Method: "POST", Path: "/stock/subtract/" + id + "/6", Status: 400},
		{Name: "ID over 128 bytes", Method: "GET", Path: "/stock/find/" + long, Status: 400},
		{Name: "add to ID over 128 bytes", Method: "POST", Path: "/stock/add/" + long + "/1", Status: 400},
		{Name: "ID with NUL", Method: "POST", Path: "/stock/add/a%00b/1", Status: 400},
		{Name: "ID with newline", Method: "GET", Path: "/stock/find/a%0Ab", Status: 400},
		{Name: "ID with escape", Method: "GET", Path: "/stock/find/%1B%5B31m", Status: 400},
		{Name: "ID not UTF-8", Method: "GET", Path: "/stock/find/%FF", Status: 400},
		{Name: "negative price", Method: "POST", Path: "/stock/item/create/-5", Status: 400},
		{Name: "non-integer price", Method: "POST", Path: "/stock/item/create/ten", Status: 400},
		{Name: "price past int64", Method: "POST", Path: "/stock/item/create/9223372036854775808", Status: 400},
		{Name: "batch n negative", Method: "POST", Path: "/stock/batch_init/-1/1/1", Status: 400},
		{Name: "batch n too large", Method: "POST", Path: "/stock/batch_init/1000001/1/1", Status: 400},
		{Name: "batch stock non-integer", Method: "POST", Path: "/stock/batch_init/10/x/1", Status: 400},
		{Name: "batch price negative", Method: "POST", Path: "/stock/batch_init/10/1/-1", Status: 400},
		{Name: "unknown route", Method: "GET", Path: "/stock/nope", Status: 404},
		{Name: "missing amount", Method: "POST", Path: "/stock/add/" + id, Status: 404},
		{Name: "extra segment", Method: "POST", Path: "/stock/add/" + id + "/1/2", Status: 404},
		{Name: "wrong method", Method: "GET", Path: "/stock/add/" + id + "/1", Status: 405},
	}
	functiontest.RunSteps(t, s.URL, tests, func(t *testing.T, _ struct{}) {
		if stock, price := s.item(t, id); stock != 5 || price != 10 {
			t.Fatalf("item changed to stock %d price %d", stock, price)
		}
		var n int
		if err := s.DB.QueryRow(context.Background(), `SELECT count(*) FROM items`).Scan(&n); err != nil || n != 1 {
			t.Fatalf("items = %d (%v), want 1", n, err)
		}
	})
}

// TestSubtractConcurrently races 50 subtracts on one item: exactly as many
// succeed as the stock covers, the rest get 400, and stock never goes negative.
func TestSubtractConcurrently(t *testing.T) {
	t.Parallel()
	s := newStockServer(t)
	id := functiontest.NewItem(t, s.URL, 1, 100)
	const workers, amount = 50, 3
	bursts := []functiontest.Burst[int64]{{Name: "subtract 3, 50 times", N: workers, Method: "POST",
		Path:     func(int) string { return "/stock/subtract/" + id + "/3" },
		Statuses: map[int]int{200: 100 / amount, 400: workers - 100/amount}, Want: 100 % amount}}
	functiontest.RunBursts(t, s.URL, bursts, s.stockIs(id))
}

func TestBatchInit(t *testing.T) {
	t.Parallel()
	s := newStockServer(t)
	ctx := context.Background()
	count := func() (n, total int64) {
		t.Helper()
		if err := s.DB.QueryRow(ctx, `SELECT count(*), coalesce(sum(stock), 0) FROM items`).Scan(&n, &total); err != nil {
			t.Fatal(err)
		}
		return n, total
	}

	functiontest.BatchInit(t, s.URL+"/stock/batch_init/100000/7/3")
	if n, total := count(); n != 100000 || total != 700000 {
		t.Fatalf("after batch_init: %d items, %d stock; want 100000, 700000", n, total)
	}
	if code, body := call(t, "GET", s.URL+"/stock/find/99999"); code != 200 || body["stock"] != 7.0 || body["price"] != 3.0 {
		t.Fatalf("find 99999 = %d %v", code, body)
	}
	if code, _ := call(t, "GET", s.URL+"/stock/find/100000"); code != 404 {
		t.Fatalf("find 100000 = %d, want 404", code)
	}

	// A second, smaller batch overwrites the items it names and keeps the rest.
	must(t, "POST", s.URL+"/stock/batch_init/10/1/2")
	if n, total := count(); n != 100000 || total != 700000-10*7+10*1 {
		t.Fatalf("after second batch_init: %d items, %d stock", n, total)
	}
	if stock, price := s.item(t, "9"); stock != 1 || price != 2 {
		t.Fatalf("item 9 = %d/%d, want 1/2", stock, price)
	}

	must(t, "POST", s.URL+"/stock/batch_init/0/1/1")
}
