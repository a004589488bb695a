package payment_test

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestPaymentOperations(t *testing.T) {
	t.Parallel()
	s := newPaymentServer(t)
	u := s.createUser(t, "0")
	other := s.createUser(t, "0")

	steps := []struct {
		name       string
		method     string
		path       string
		wantStatus int
		wantCredit int64
		wantBody   map[string]any
	}{
		{name: "find new user", method: "GET", path: "/payment/find_user/" + u, wantStatus: 200, wantCredit: 0,
			wantBody: map[string]any{"user_id": u, "credit": 0.0}},
		{name: "add funds", method: "POST", path: "/payment/add_funds/" + u + "/100", wantStatus: 200, wantCredit: 100,
			wantBody: map[string]any{"done": true}},
		{name: "pay (2024)", method: "POST", path: "/payment/pay/" + u + "/30", wantStatus: 200, wantCredit: 70,
			wantBody: map[string]any{"credit": 70.0}},
		{name: "pay more than credit", method: "POST", path: "/payment/pay/" + u + "/71", wantStatus: 400, wantCredit: 70},
		{name: "pay zero", method: "POST", path: "/payment/pay/" + u + "/0", wantStatus: 200, wantCredit: 70},
		{name: "status before paying order", method: "GET", path: "/payment/status/" + u + "/o1", wantStatus: 200, wantCredit: 70,
			wantBody: map[string]any{"paid": false}},
		{name: "pay order (2023)", method: "POST", path: "/payment/pay/" + u + "/o1/20", wantStatus: 200, wantCredit: 50},
		{name: "pay same order again takes nothing", method: "POST", path: "/payment/pay/" + u + "/o1/20", wantStatus: 200, wantCredit: 50},
		{name: "status paid (GET)", method: "GET", path: "/payment/status/" + u + "/o1", wantStatus: 200, wantCredit: 50,
			wantBody: map[string]any{"paid": true}},
		{name: "status paid (POST)", method: "POST", path: "/payment/status/" + u + "/o1", wantStatus: 200, wantCredit: 50,
			wantBody: map[string]any{"paid": true}},
		{name: "other user's status of the order", method: "GET", path: "/payment/status/" + other + "/o1", wantStatus: 200, wantCredit: 50,
			wantBody: map[string]any{"paid": false}},
		{name: "pay order beyond credit", method: "POST", path: "/payment/pay/" + u + "/o2/51", wantStatus: 400, wantCredit: 50},
		{name: "refused order stays unpaid", method: "GET", path: "/payment/status/" + u + "/o2", wantStatus: 200, wantCredit: 50,
			wantBody: map[string]any{"paid": false}},
		{name: "cancel refunds", method: "POST", path: "/payment/cancel/" + u + "/o1", wantStatus: 200, wantCredit: 70},
		{name: "status after cancel", method: "GET", path: "/payment/status/" + u + "/o1", wantStatus: 200, wantCredit: 70,
			wantBody: map[string]any{"paid": false}},
		{name: "second cancel refunds nothing", method: "POST", path: "/payment/cancel/" + u + "/o1", wantStatus: 400, wantCredit: 70},
		{name: "cancel of an order never paid", method: "POST", path: "/payment/cancel/" + u + "/o9", wantStatus: 400, wantCredit: 70},
		{name: "cancel by another user", method: "POST", path: "/payment/cancel/" + other + "/o1", wantStatus: 400, wantCredit: 70},
		{name: "cancelled order can be paid again", method: "POST", path: "/payment/pay/" + u + "/o1/5", wantStatus: 200, wantCredit: 65},
		{name: "find unknown", method: "GET", path: "/payment/find_user/nope", wantStatus: 404, wantCredit: 65},
		{name: "add funds to unknown", method: "POST", path: "/payment/add_funds/nope/1", wantStatus: 404, wantCredit: 65},
		{name: "pay by unknown", method: "POST", path: "/payment/pay/nope/1", wantStatus: 404, wantCredit: 65},
		{name: "pay order by unknown", method: "POST", path: "/payment/pay/nope/o1/1", wantStatus: 404, wantCredit: 65},
		{name: "status of unknown user", method: "GET", path: "/payment/status/nope/o1", wantStatus: 404, wantCredit: 65},
		{name: "cancel by unknown user", method: "POST", path: "/payment/cancel/nope/o1", wantStatus: 400, wantCredit: 65},
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
			if got := s.credit(t, u); got != st.wantCredit {
				t.Fatalf("credit = %d, want %d", got, st.wantCredit)
			}
			if got := s.credit(t, other); got != 0 {
				t.Fatalf("other user's credit = %d, want 0", got)
			}
		})
	}
}

// TestPaymentBadInput covers API.md's Errors section for payment: each
// request gets a 4xx with a JSON error and changes nothing.
func TestPaymentBadInput(t *testing.T) {
	t.Parallel()
	s := newPaymentServer(t)
	u := s.createUser(t, "50")
	if code, _ := call(t, "POST", s.URL+"/payment/pay/"+u+"/o1/10"); code != 200 {
		t.Fatal("setup pay failed")
	}
	long := strings.Repeat("u", 129)
	tests := []struct {
		name   string
		method string
		path   string
		want   int
	}{
		{name: "non-integer funds", method: "POST", path: "/payment/add_funds/" + u + "/ten", want: 400},
		{name: "zero funds", method: "POST", path: "/payment/add_funds/" + u + "/0", want: 400},
		{name: "negative funds", method: "POST", path: "/payment/add_funds/" + u + "/-5", want: 400},
		{name: "funds past int64", method: "POST", path: "/payment/add_funds/" + u + "/9223372036854775808", want: 400},
		{name: "credit would overflow int64", method: "POST", path: "/payment/add_funds/" + u + "/9223372036854775807", want: 400},
		{name: "negative pay", method: "POST", path: "/payment/pay/" + u + "/-1", want: 400},
		{name: "pay with junk", method: "POST", path: "/payment/pay/" + u + "/1x", want: 400},
		{name: "pay past int64", method: "POST", path: "/payment/pay/" + u + "/18446744073709551616", want: 400},
		{name: "pay more than credit", method: "POST", path: "/payment/pay/" + u + "/41", want: 400},
		{name: "pay order negative", method: "POST", path: "/payment/pay/" + u + "/o2/-1", want: 400},
		{name: "pay order with long order ID", method: "POST", path: "/payment/pay/" + u + "/" + long + "/1", want: 400},
		{name: "pay order with control character", method: "POST", path: "/payment/pay/" + u + "/o%0A2/1", want: 400},
		{name: "user ID over 128 bytes", method: "GET", path: "/payment/find_user/" + long, want: 400},
		{name: "user ID with NUL", method: "POST", path: "/payment/add_funds/a%00/1", want: 400},
		{name: "user ID not UTF-8", method: "GET", path: "/payment/find_user/%C3%28", want: 400},
		{name: "cancel with control character", method: "POST", path: "/payment/cancel/" + u + "/o%7F1", want: 400},
		{name: "status with long order ID", method: "GET", path: "/payment/status/" + u + "/" + long, want: 400},
		{name: "batch n non-integer", method: "POST", path: "/payment/batch_init/many/1", want: 400},
		{name: "batch money negative", method: "POST", path: "/payment/batch_init/10/-1", want: 400},
		{name: "batch n too large", method: "POST", path: "/payment/batch_init/99999999/1", want: 400},
		{name: "unknown route", method: "POST", path: "/payment/refund_all", want: 404},
		{name: "missing amount", method: "POST", path: "/payment/add_funds/" + u, want: 404},
		{name: "wrong method", method: "GET", path: "/payment/create_user", want: 405},
		{name: "wrong method on cancel", method: "DELETE", path: "/payment/cancel/" + u + "/o1", want: 405},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, body := call(t, tt.method, s.URL+tt.path)
			if code != tt.want || body["error"] == nil {
				t.Fatalf("%s %s = %d %v, want %d with an error", tt.method, tt.path, code, body, tt.want)
			}
			if c := s.credit(t, u); c != 40 {
				t.Fatalf("credit changed to %d", c)
			}
			var users, payments int
			err := s.DB.QueryRow(context.Background(),
				`SELECT (SELECT count(*) FROM users), (SELECT count(*) FROM order_payments WHERE state = 'paid')`).Scan(&users, &payments)
			if err != nil || users != 1 || payments != 1 {
				t.Fatalf("users %d, payments %d (%v); want 1, 1", users, payments, err)
			}
		})
	}
}

// race runs n requests at once and counts their statuses.
func race(t *testing.T, n int, method string, url func(i int) string) map[int]int {
	t.Helper()
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		statuses = map[int]int{}
	)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequest(method, url(i), nil)
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
	return statuses
}

func TestPayConcurrently(t *testing.T) {
	t.Parallel()
	s := newPaymentServer(t)
	u := s.createUser(t, "100")
	statuses := race(t, 50, "POST", func(int) string { return s.URL + "/payment/pay/" + u + "/3" })
	if statuses[200] != 33 || statuses[400] != 17 || len(statuses) != 2 {
		t.Fatalf("statuses %v, want 33 x 200 and 17 x 400", statuses)
	}
	if c := s.credit(t, u); c != 1 {
		t.Fatalf("credit = %d, want 1", c)
	}
}

// TestPayOrderConcurrently pays one order 50 times at once (2023 form):
// every call succeeds, the credit is taken once.
func TestPayOrderConcurrently(t *testing.T) {
	t.Parallel()
	s := newPaymentServer(t)
	u := s.createUser(t, "100")
	statuses := race(t, 50, "POST", func(int) string { return s.URL + "/payment/pay/" + u + "/o1/30" })
	if statuses[200] != 50 {
		t.Fatalf("statuses %v, want 50 x 200", statuses)
	}
	if c := s.credit(t, u); c != 70 {
		t.Fatalf("credit = %d, want 70", c)
	}
	// Many orders at once: 100 credit covers 3 orders of 30 (one already paid).
	statuses = race(t, 50, "POST", func(i int) string {
		return s.URL + "/payment/pay/" + u + "/p" + strconv.Itoa(i) + "/30"
	})
	if statuses[200] != 2 || statuses[400] != 48 {
		t.Fatalf("statuses %v, want 2 x 200 and 48 x 400", statuses)
	}
	if c := s.credit(t, u); c != 10 {
		t.Fatalf("credit = %d, want 10", c)
	}
}

func TestCancelConcurrently(t *testing.T) {
	t.Parallel()
	s := newPaymentServer(t)
	u := s.createUser(t, "100")
	if code, _ := call(t, "POST", s.URL+"/payment/pay/"+u+"/o1/40"); code != 200 {
		t.Fatal("pay failed")
	}
	statuses := race(t, 50, "POST", func(int) string { return s.URL + "/payment/cancel/" + u + "/o1" })
	if statuses[200] != 1 || statuses[400] != 49 {
		t.Fatalf("statuses %v, want 1 x 200 and 49 x 400", statuses)
	}
	if c := s.credit(t, u); c != 100 {
		t.Fatalf("credit = %d, want 100", c)
	}
}

func TestPaymentBatchInit(t *testing.T) {
	t.Parallel()
	s := newPaymentServer(t)
	start := time.Now()
	code, body := call(t, "POST", s.URL+"/payment/batch_init/100000/25")
	t.Logf("batch_init of 100,000 rows took %v", time.Since(start)) // not asserted: shared CI machines vary
	if code != 200 || body["msg"] == nil {
		t.Fatalf("batch_init = %d %v", code, body)
	}
	var n, total int64
	if err := s.DB.QueryRow(context.Background(), `SELECT count(*), sum(credit) FROM users`).Scan(&n, &total); err != nil {
		t.Fatal(err)
	}
	if n != 100000 || total != 2500000 {
		t.Fatalf("%d users with %d credit, want 100000 with 2500000", n, total)
	}
	if code, body := call(t, "GET", s.URL+"/payment/find_user/99999"); code != 200 || body["credit"] != 25.0 {
		t.Fatalf("find_user 99999 = %d %v", code, body)
	}
	if code, _ := call(t, "POST", s.URL+"/payment/batch_init/5/1"); code != 200 {
		t.Fatal("second batch_init failed")
	}
	if c := s.credit(t, "4"); c != 1 {
		t.Fatalf("user 4 credit = %d after overwrite, want 1", c)
	}
	if c := s.credit(t, "5"); c != 25 {
		t.Fatalf("user 5 credit = %d, want 25 (untouched)", c)
	}
}
