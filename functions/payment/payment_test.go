package payment_test

import (
	"context"
	"strconv"
	"strings"
	"testing"

	"github.com/wdm-knative/webshop/functions/functiontest"
)

func TestPaymentOperations(t *testing.T) {
	t.Parallel()
	s := newPaymentServer(t)
	u := functiontest.NewUser(t, s.URL, 0)
	other := functiontest.NewUser(t, s.URL, 0)

	steps := []functiontest.Step[int64]{ // Want: u's credit after the step
		{Name: "find new user", Method: "GET", Path: "/payment/find_user/" + u, Status: 200, Want: 0,
			Body: map[string]any{"user_id": u, "credit": 0.0}},
		{Name: "add funds", Method: "POST", Path: "/payment/add_funds/" + u + "/100", Status: 200, Want: 100,
			Body: map[string]any{"done": true}},
		{Name: "pay (2024)", Method: "POST", Path: "/payment/pay/" + u + "/30", Status: 200, Want: 70,
			Body: map[string]any{"credit": 70.0}},
		{Name: "pay more than credit", Method: "POST", Path: "/payment/pay/" + u + "/71", Status: 400, Want: 70},
		{Name: "pay zero", Method: "POST", Path: "/payment/pay/" + u + "/0", Status: 200, Want: 70},
		{Name: "status before paying order", Method: "GET", Path: "/payment/status/" + u + "/o1", Status: 200, Want: 70,
			Body: map[string]any{"paid": false}},
		{Name: "pay order (2023)", Method: "POST", Path: "/payment/pay/" + u + "/o1/20", Status: 200, Want: 50},
		{Name: "pay same order again takes nothing", Method: "POST", Path: "/payment/pay/" + u + "/o1/20", Status: 200, Want: 50},
		{Name: "status paid (GET)", Method: "GET", Path: "/payment/status/" + u + "/o1", Status: 200, Want: 50,
			Body: map[string]any{"paid": true}},
		{Name: "status paid (POST)", Method: "POST", Path: "/payment/status/" + u + "/o1", Status: 200, Want: 50,
			Body: map[string]any{"paid": true}},
		{Name: "other user's status of the order", Method: "GET", Path: "/payment/status/" + other + "/o1", Status: 200, Want: 50,
			Body: map[string]any{"paid": false}},
		{Name: "pay order beyond credit", Method: "POST", Path: "/payment/pay/" + u + "/o2/51", Status: 400, Want: 50},
		{Name: "refused order stays unpaid", Method: "GET", Path: "/payment/status/" + u + "/o2", Status: 200, Want: 50,
			Body: map[string]any{"paid": false}},
		{Name: "cancel refunds", Method: "POST", Path: "/payment/cancel/" + u + "/o1", Status: 200, Want: 70},
		{Name: "status after cancel", Method: "GET", Path: "/payment/status/" + u + "/o1", Status: 200, Want: 70,
			Body: map[string]any{"paid": false}},
		{Name: "second cancel refunds nothing", Method: "POST", Path: "/payment/cancel/" + u + "/o1", Status: 400, Want: 70},
		{Name: "cancel of an order never paid", Method: "POST", Path: "/payment/cancel/" + u + "/o9", Status: 400, Want: 70},
		{Name: "cancel by another user", Method: "POST", Path: "/payment/cancel/" + other + "/o1", Status: 400, Want: 70},
		{Name: "cancelled order can be paid again", Method: "POST", Path: "/payment/pay/" + u + "/o1/5", Status: 200, Want: 65},
		{Name: "find unknown", Method: "GET", Path: "/payment/find_user/nope", Status: 404, Want: 65},
		{Name: "add funds to unknown", Method: "POST", Path: "/payment/add_funds/nope/1", Status: 404, Want: 65},
		{Name: "pay by unknown", Method: "POST", Path: "/payment/pay/nope/1", Status: 404, Want: 65},
		{Name: "pay order by unknown", Method: "POST", Path: "/payment/pay/nope/o1/1", Status: 404, Want: 65},
		{Name: "status of unknown user", Method: "GET", Path: "/payment/status/nope/o1", Status: 404, Want: 65},
		{Name: "cancel by unknown user", Method: "POST", Path: "/payment/cancel/nope/o1", Status: 400, Want: 65},
	}
	functiontest.RunSteps(t, s.URL, steps, func(t *testing.T, want int64) {
		if got := s.credit(t, u); got != want {
			t.Fatalf("credit = %d, want %d", got, want)
		}
		if got := s.credit(t, other); got != 0 {
			t.Fatalf("other user's credit = %d, want 0", got)
		}
	})
}

// TestPaymentBadInput covers API.md's Errors section for payment: each
// request gets a 4xx with a JSON error and changes nothing.
func TestPaymentBadInput(t *testing.T) {
	t.Parallel()
	s := newPaymentServer(t)
	u := functiontest.NewUser(t, s.URL, 50)
	must(t, "POST", s.URL+"/payment/pay/"+u+"/o1/10")
	long := strings.Repeat("u", 129)
	tests := []functiontest.Step[struct{}]{
		{Name: "non-integer funds", Method: "POST", Path: "/payment/add_funds/" + u + "/ten", Status: 400},
		{Name: "zero funds", Method: "POST", Path: "/payment/add_funds/" + u + "/0", Status: 400},
		{Name: "negative funds", Method: "POST", Path: "/payment/add_funds/" + u + "/-5", Status: 400},
		{Name: "funds past int64", Method: "POST", Path: "/payment/add_funds/" + u + "/9223372036854775808", Status: 400},
		{Name: "credit would overflow int64", Method: "POST", Path: "/payment/add_funds/" + u + "/9223372036854775807", Status: 400},
		{Name: "negative pay", Method: "POST", Path: "/payment/pay/" + u + "/-1", Status: 400},
		{Name: "pay with junk", Method: "POST", Path: "/payment/pay/" + u + "/1x", Status: 400},
		{Name: "pay past int64", Method: "POST", Path: "/payment/pay/" + u + "/18446744073709551616", Status: 400},
		{Name: "pay more than credit", Method: "POST", Path: "/payment/pay/" + u + "/41", Status: 400},
		{Name: "pay order negative", Method: "POST", Path: "/payment/pay/" + u + "/o2/-1", Status: 400},
		{Name: "pay order with long order ID", Method: "POST", Path: "/payment/pay/" + u + "/" + long + "/1", Status: 400},
		{Name: "pay order with control character", Method: "POST", Path: "/payment/pay/" + u + "/o%0A2/1", Status: 400},
		{Name: "user ID over 128 bytes", Method: "GET", Path: "/payment/find_user/" + long, Status: 400},
		{Name: "user ID with NUL", Method: "POST", Path: "/payment/add_funds/a%00/1", Status: 400},
		{Name: "user ID not UTF-8", Method: "GET", Path: "/payment/find_user/%C3%28", Status: 400},
		{Name: "cancel with control character", Method: "POST", Path: "/payment/cancel/" + u + "/o%7F1", Status: 400},
		{Name: "status with long order ID", Method: "GET", Path: "/payment/status/" + u + "/" + long, Status: 400},
		{Name: "batch n non-integer", Method: "POST", Path: "/payment/batch_init/many/1", Status: 400},
		{Name: "batch money negative", Method: "POST", Path: "/payment/batch_init/10/-1", Status: 400},
		{Name: "batch n too large", Method: "POST", Path: "/payment/batch_init/99999999/1", Status: 400},
		{Name: "unknown route", Method: "POST", Path: "/payment/refund_all", Status: 404},
		{Name: "missing amount", Method: "POST", Path: "/payment/add_funds/" + u, Status: 404},
		{Name: "wrong method", Method: "GET", Path: "/payment/create_user", Status: 405},
		{Name: "wrong method on cancel", Method: "DELETE", Path: "/payment/cancel/" + u + "/o1", Status: 405},
	}
	functiontest.RunSteps(t, s.URL, tests, func(t *testing.T, _ struct{}) {
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

// TestConcurrentPayments sends bursts of 50 requests at once, each burst
// for one user who had 100 credit: payments take no more than the credit
// covers, an order is paid once however often it is paid (2023 form), and a
// payment is refunded once however often it is cancelled.
func TestConcurrentPayments(t *testing.T) {
	t.Parallel()
	s := newPaymentServer(t)
	payer, orderer, canceller := functiontest.NewUser(t, s.URL, 100), functiontest.NewUser(t, s.URL, 100), functiontest.NewUser(t, s.URL, 100)
	must(t, "POST", s.URL+"/payment/pay/"+canceller+"/o1/40")
	type credit struct {
		user string
		want int64
	}
	bursts := []functiontest.Burst[credit]{
		{Name: "pay 3, 50 times", N: 50, Method: "POST", Path: func(int) string { return "/payment/pay/" + payer + "/3" },
			Statuses: map[int]int{200: 33, 400: 17}, Want: credit{payer, 1}},
		{Name: "pay one order 50 times", N: 50, Method: "POST", Path: func(int) string { return "/payment/pay/" + orderer + "/o1/30" },
			Statuses: map[int]int{200: 50}, Want: credit{orderer, 70}},
		// 100 credit covers 3 orders of 30, one already paid.
		{Name: "pay 50 orders", N: 50, Method: "POST", Path: func(i int) string { return "/payment/pay/" + orderer + "/p" + strconv.Itoa(i) + "/30" },
			Statuses: map[int]int{200: 2, 400: 48}, Want: credit{orderer, 10}},
		{Name: "cancel one payment 50 times", N: 50, Method: "POST", Path: func(int) string { return "/payment/cancel/" + canceller + "/o1" },
			Statuses: map[int]int{200: 1, 400: 49}, Want: credit{canceller, 100}},
	}
	functiontest.RunBursts(t, s.URL, bursts, func(t *testing.T, c credit) {
		if got := s.credit(t, c.user); got != c.want {
			t.Fatalf("credit = %d, want %d", got, c.want)
		}
	})
}

func TestPaymentBatchInit(t *testing.T) {
	t.Parallel()
	s := newPaymentServer(t)
	functiontest.BatchInit(t, s.URL+"/payment/batch_init/100000/25")
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
	must(t, "POST", s.URL+"/payment/batch_init/5/1")
	if c := s.credit(t, "4"); c != 1 {
		t.Fatalf("user 4 credit = %d after overwrite, want 1", c)
	}
	if c := s.credit(t, "5"); c != 25 {
		t.Fatalf("user 5 credit = %d, want 25 (untouched)", c)
	}
}
