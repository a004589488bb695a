package stock_test

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestStockOperations(t *testing.T) {
	t.Parallel()
	s := newStockServer(t)
	id := s.createItem(t, "10", "0")

	steps := []struct {
		name       string
		method     string
		path       string
		wantStatus int
		wantStock  int64
		wantBody   map[string]any
	}{
		{name: "find new item", method: "GET", path: "/stock/find/" + id, wantStatus: 200, wantStock: 0,
			wantBody: map[string]any{"stock": 0.0, "price": 10.0}},
		{name: "add", method: "POST", path: "/stock/add/" + id + "/5", wantStatus: 200, wantStock: 5,
			wantBody: map[string]any{"item_id": id, "stock": 5.0}},
		{name: "subtract some", method: "POST", path: "/stock/subtract/" + id + "/3", wantStatus: 200, wantStock: 2,
			wantBody: map[string]any{"stock": 2.0}},
		{name: "subtract more than left", method: "POST", path: "/stock/subtract/" + id + "/3", wantStatus: 400, wantStock: 2},
		{name: "subtract exactly what is left", method: "POST", path: "/stock/subtract/" + id + "/2", wantStatus: 200, wantStock: 0},
		{name: "subtract from empty", method: "POST", path: "/stock/subtract/" + id + "/1", wantStatus: 400, wantStock: 0},
		{name: "find after", method: "GET", path: "/stock/find/" + id, wantStatus: 200, wantStock: 0,
			wantBody: map[string]any{"stock": 0.0, "price": 10.0}},
		{name: "find unknown", method: "GET", path: "/stock/find/nope", wantStatus: 404, wantStock: 0},
		{name: "add to unknown", method: "POST", path: "/stock/add/nope/1", wantStatus: 404, wantStock: 0},
		{name: "subtract from unknown", method: "POST", path: "/stock/subtract/nope/1", wantStatus: 404, wantStock: 0},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			code, body := call(t, st.method, s.URL+st.path)
			if code != st.wantStatus {
				t.Fatalf("%s %s = %d %v, want %d", st.method, st.path, code, body, st.wantStatus)
			}
			if code >= 400 && body["error"] == nil {
				t.Fatalf("error answer without \"error\": %v", body)
			}
			for k, v := range st.wantBody {
				if body[k] != v {
					t.Fatalf("body[%q] = %v, want %v (body %v)", k, body[k], v, body)
				}
			}
			if got, _ := s.item(t, id); got != st.wantStock {
				t.Fatalf("stock = %d, want %d", got, st.wantStock)
			}
		})
	}
}

func TestCreateGivesDistinctIDs(t *testing.T) {
	t.Parallel()
	s := newStockServer(t)
	a, b := s.createItem(t, "0", "0"), s.createItem(t, "0", "0")
	if a == "" || a == b {
		t.Fatalf("IDs %q and %q", a, b)
	}
}

// TestStockBadInput covers API.md's Errors section for stock: each request
// gets a 4xx with a JSON error and leaves the item as it was.
func TestStockBadInput(t *testing.T) {
	t.Parallel()
	s := newStockServer(t)
	id := s.createItem(t, "10", "5")
	long := strings.Repeat("x", 129)
	tests := []struct {
		name   string
		method string
		path   string
		want   int
	}{
		{name: "non-integer amount", method: "POST", path: "/stock/add/" + id + "/abc", want: 400},
		{name: "float amount", method: "POST", path: "/stock/add/" + id + "/1.5", want: 400},
		{name: "negative add", method: "POST", path: "/stock/add/" + id + "/-1", want: 400},
		{name: "negative subtract", method: "POST", path: "/stock/subtract/" + id + "/-1", want: 400},
		{name: "zero add", method: "POST", path: "/stock/add/" + id + "/0", want: 400},
		{name: "zero subtract", method: "POST", path: "/stock/subtract/" + id + "/0", want: 400},
		{name: "plus sign", method: "POST", path: "/stock/add/" + id + "/+1", want: 400},
		{name: "amount past int64", method: "POST", path: "/stock/add/" + id + "/9223372036854775808", want: 400},
		{name: "subtract past int64", method: "POST", path: "/stock/subtract/" + id + "/99999999999999999999", want: 400},
		{name: "stock would overflow int64", method: "POST", path: "/stock/add/" + id + "/9223372036854775807", want: 400},
		{name: "subtract more than stock", method: "POST", path: "/stock/subtract/" + id + "/6", want: 400},
		{name: "ID over 128 bytes", method: "GET", path: "/stock/find/" + long, want: 400},
		{name: "add to ID over 128 bytes", method: "POST", path: "/stock/add/" + long + "/1", want: 400},
		{name: "ID with NUL", method: "POST", path: "/stock/add/a%00b/1", want: 400},
		{name: "ID with newline", method: "GET", path: "/stock/find/a%0Ab", want: 400},
		{name: "ID with escape", method: "GET", path: "/stock/find/%1B%5B31m", want: 400},
		{name: "ID not UTF-8", method: "GET", path: "/stock/find/%FF", want: 400},
		{name: "negative price", method: "POST", path: "/stock/item/create/-5", want: 400},
		{name: "non-integer price", method: "POST", path: "/stock/item/create/ten", want: 400},
		{name: "price past int64", method: "POST", path: "/stock/item/create/9223372036854775808", want: 400},
		{name: "batch n negative", method: "POST", path: "/stock/batch_init/-1/1/1", want: 400},
		{name: "batch n too large", method: "POST", path: "/stock/batch_init/1000001/1/1", want: 400},
		{name: "batch stock non-integer", method: "POST", path: "/stock/batch_init/10/x/1", want: 400},
		{name: "batch price negative", method: "POST", path: "/stock/batch_init/10/1/-1", want: 400},
		{name: "unknown route", method: "GET", path: "/stock/nope", want: 404},
		{name: "missing amount", method: "POST", path: "/stock/add/" + id, want: 404},
		{name: "extra segment", method: "POST", path: "/stock/add/" + id + "/1/2", want: 404},
		{name: "wrong method", method: "GET", path: "/stock/add/" + id + "/1", want: 405},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, body := call(t, tt.method, s.URL+tt.path)
			if code != tt.want || body["error"] == nil {
				t.Fatalf("%s %s = %d %v, want %d with an error", tt.method, tt.path, code, body, tt.want)
			}
			if stock, price := s.item(t, id); stock != 5 || price != 10 {
				t.Fatalf("item changed to stock %d price %d", stock, price)
			}
			var n int
			if err := s.DB.QueryRow(context.Background(), `SELECT count(*) FROM items`).Scan(&n); err != nil || n != 1 {
				t.Fatalf("items = %d (%v), want 1", n, err)
			}
		})
	}
}

// TestSubtractConcurrently races 50 subtracts on one item: exactly as many
// succeed as the stock covers, the rest get 400, and stock never goes negative.
func TestSubtractConcurrently(t *testing.T) {
	t.Parallel()
	s := newStockServer(t)
	id := s.createItem(t, "1", "100")
	const workers, amount = 50, 3
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		statuses = map[int]int{}
	)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequest("POST", s.URL+"/stock/subtract/"+id+"/3", nil)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			resp.Body.Close()
			mu.Lock()
			statuses[resp.StatusCode]++
			mu.Unlock()
		}()
	}
	wg.Wait()
	if statuses[200] != 100/amount || statuses[400] != workers-100/amount || len(statuses) != 2 {
		t.Fatalf("statuses %v, want %d x 200 and %d x 400", statuses, 100/amount, workers-100/amount)
	}
	if stock, _ := s.item(t, id); stock != 100%amount {
		t.Fatalf("stock = %d, want %d", stock, 100%amount)
	}
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

	start := time.Now()
	code, body := call(t, "POST", s.URL+"/stock/batch_init/100000/7/3")
	t.Logf("batch_init of 100,000 rows took %v", time.Since(start)) // not asserted: shared CI machines vary
	if code != 200 || body["msg"] == nil {
		t.Fatalf("batch_init = %d %v", code, body)
	}
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
	if code, body := call(t, "POST", s.URL+"/stock/batch_init/10/1/2"); code != 200 {
		t.Fatalf("second batch_init = %d %v", code, body)
	}
	if n, total := count(); n != 100000 || total != 700000-10*7+10*1 {
		t.Fatalf("after second batch_init: %d items, %d stock", n, total)
	}
	if stock, price := s.item(t, "9"); stock != 1 || price != 2 {
		t.Fatalf("item 9 = %d/%d, want 1/2", stock, price)
	}

	if code, _ := call(t, "POST", s.URL+"/stock/batch_init/0/1/1"); code != 200 {
		t.Fatalf("batch_init of 0 items = %d", code)
	}
}
