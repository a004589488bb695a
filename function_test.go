package function

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/wdm-knative/webshop/functions/functiontest"
	"github.com/wdm-knative/webshop/internal/api"
	"github.com/wdm-knative/webshop/internal/operation"
	"github.com/wdm-knative/webshop/local/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// started is a Function started with cfg (migrations applied) behind an
// httptest server, stopped when the test ends.
func started(t *testing.T, cfg Config) (*Function, *httptest.Server) {
	t.Helper()
	cfg.Migrate = true
	cfg.LogLevel = slog.LevelWarn
	f := New()
	if err := f.StartWith(context.Background(), cfg); err != nil {
		t.Fatalf("start: %v", err)
	}
	t.Cleanup(func() { _ = f.Stop(context.Background()) })
	srv := httptest.NewServer(http.HandlerFunc(f.Handle))
	t.Cleanup(srv.Close)
	return f, srv
}

// call sends a request and decodes its JSON answer.
var call = testenv.CallJSON

// status sends req and returns the answer's status.
func status(t *testing.T, req *http.Request) int {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// postEvent posts body as the JSON data of a binary-mode CloudEvent (id,
// type typ, source /test; further attributes as the Ce- headers of more) and
// returns the answer's status.
func postEvent(t *testing.T, url, id, typ, body string, more map[string]string) int {
	t.Helper()
	req, err := http.NewRequest("POST", url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range map[string]string{"Ce-Id": id, "Ce-Source": "/test", "Ce-Specversion": "1.0", "Ce-Type": typ,
		"Content-Type": "application/json"} {
		req.Header.Set(k, v)
	}
	for k, v := range more {
		req.Header.Set(k, v)
	}
	return status(t, req)
}

func TestStartRefusesBadSettings(t *testing.T) {
	dsn := "postgres://u@127.0.0.1:1/db"
	tests := []struct {
		name    string
		cfg     Config
		wantErr string
	}{
		{name: "no FUNCTION", cfg: Config{}, wantErr: "FUNCTION"},
		{name: "unknown operation", cfg: Config{Function: "stock-frobnicate", StockDSN: dsn}, wantErr: "stock-frobnicate"},
		{name: "missing DSN", cfg: Config{Function: "stock"}, wantErr: "STOCK_DSN"},
		{name: "saga needs the order database", cfg: Config{Function: "saga-sweep"}, wantErr: "ORDER_DSN"},
		{name: "bad DSN", cfg: Config{Function: "payment-find-user", PaymentDSN: "postgres://%zz"}, wantErr: "PAYMENT_DSN"},
		{name: "addItem needs STOCK_URL", cfg: Config{Function: "order-add-item", OrderDSN: dsn}, wantErr: "STOCK_URL"},
		{name: "create needs PAYMENT_URL", cfg: Config{Function: "order-create", OrderDSN: dsn}, wantErr: "PAYMENT_URL"},
		{name: "STOCK_URL not a URL", cfg: Config{Function: "order-add-item", OrderDSN: dsn, StockURL: "stock:8080"}, wantErr: "STOCK_URL"},
		{name: "every missing setting at once", cfg: Config{Function: "order,stock"}, wantErr: "STOCK_DSN"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := New()
			err := f.StartWith(context.Background(), tt.cfg)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("StartWith = %v, want an error naming %s", err, tt.wantErr)
			}
			if ok, _ := f.Ready(context.Background()); ok {
				t.Fatal("ready after a failed start")
			}
		})
	}
}

func TestLoadConfig(t *testing.T) {
	t.Setenv("FUNCTION", "stock-find")
	t.Setenv("STOCK_DSN", "postgres://u@127.0.0.1:1/stock")
	t.Setenv("LOG_LEVEL", "debug")
	t.Setenv("PORT", "9123")
	cfg, err := LoadConfig()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Function != "stock-find" || cfg.LogLevel.String() != "DEBUG" || cfg.Listen() != "127.0.0.1:9123" || cfg.DBMaxConns != 16 {
		t.Fatalf("config = %+v", cfg)
	}
	if o := cfg.sagaOptions(); o.SendTimeout != 0 || o.Deadline != 0 {
		t.Fatalf("unset saga settings = %+v, want zero (saga.DefaultOptions fills them)", o)
	}
	t.Setenv("SAGA_SEND_TIMEOUT", "150s")
	t.Setenv("SAGA_DEADLINE", "90s")
	if cfg, err = LoadConfig(); err != nil {
		t.Fatal(err)
	}
	if o := cfg.sagaOptions(); o.SendTimeout != 150*time.Second || o.Deadline != 90*time.Second {
		t.Fatalf("saga settings = %+v, want SendTimeout 150s and Deadline 90s", o)
	}

	t.Setenv("LOG_LEVEL", "loud")
	if _, err := LoadConfig(); err == nil {
		t.Fatal("LoadConfig accepted LOG_LEVEL=loud")
	}
	t.Setenv("LOG_LEVEL", "info")
	t.Setenv("STOCK_DSN", "")
	if _, err := LoadConfig(); err == nil || !strings.Contains(err.Error(), "STOCK_DSN") {
		t.Fatalf("LoadConfig without STOCK_DSN = %v", err)
	}
}

// TestServesOnlySelected: a process serves the operations FUNCTION names and
// answers everything else with a JSON 404 or 405.
func TestServesOnlySelected(t *testing.T) {
	f, srv := started(t, Config{Function: "stock-item-create,stock-find", StockDSN: testenv.NewDatabase(t)})
	if ok, err := f.Ready(context.Background()); !ok || err != nil {
		t.Fatalf("Ready = %v, %v", ok, err)
	}
	id := testenv.MustJSON(t, "POST", srv.URL+"/stock/item/create/5")["item_id"].(string)
	tests := []struct {
		name   string
		method string
		path   string
		want   int
	}{
		{name: "selected operation", method: "GET", path: "/stock/find/" + id, want: 200},
		{name: "operation not selected", method: "POST", path: "/stock/add/" + id + "/1", want: 404},
		{name: "other domain", method: "POST", path: "/payment/create_user", want: 404},
		{name: "wrong method", method: "DELETE", path: "/stock/find/" + id, want: 405},
		{name: "root", method: "GET", path: "/", want: 404},
		{name: "event path of a domain operation not selected", method: "POST", path: "/events/stock-reserve", want: 404},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, body := call(t, tt.method, srv.URL+tt.path)
			if code != tt.want || (code >= 400 && body["error"] == nil) {
				t.Fatalf("%s %s = %d %v, want %d", tt.method, tt.path, code, body, tt.want)
			}
		})
	}

	if err := f.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	if code, _ := call(t, "GET", srv.URL+"/stock/find/"+id); code != 503 {
		t.Fatalf("after Stop: %d, want 503", code)
	}
	if ok, _ := f.Ready(context.Background()); ok {
		t.Fatal("ready after Stop")
	}
}

// TestOrderDomainThroughFunctions runs the order, stock and payment domains
// as three Functions, wired to each other by URL as in the local stack.
func TestOrderDomainThroughFunctions(t *testing.T) {
	_, stockSrv := started(t, Config{Function: "stock-item-create,stock-find", StockDSN: testenv.NewDatabase(t)})
	_, paySrv := started(t, Config{Function: "payment-create-user,payment-find-user", PaymentDSN: testenv.NewDatabase(t)})
	_, orderSrv := started(t, Config{
		Function: "order-create,order-find,order-add-item",
		OrderDSN: testenv.NewDatabase(t), StockURL: stockSrv.URL, PaymentURL: paySrv.URL,
	})

	user := functiontest.NewUser(t, paySrv.URL, 0)
	item := functiontest.NewItem(t, stockSrv.URL, 7, 0)
	id := functiontest.NewOrder(t, orderSrv.URL, user, map[string]int64{item: 3})
	if code, body := call(t, "GET", orderSrv.URL+"/orders/find/"+id); code != 200 || body["total_cost"] != 21.0 {
		t.Fatalf("find = %d %v", code, body)
	}
	if code, body := call(t, "POST", orderSrv.URL+"/orders/checkout/"+id); code != 404 || body["error"] == nil {
		t.Fatalf("checkout (not selected) = %d %v, want 404", code, body)
	}
}

func TestEventOperationWithoutHandlerFails(t *testing.T) {
	ops := []operation.Operation{{Name: "thing-happen", EventPath: "/events/thing-happen"}}
	if err := mountEvents(api.NewRouter(), ops, map[string]http.Handler{}); err == nil ||
		!strings.Contains(err.Error(), "thing-happen") {
		t.Fatalf("mountEvents = %v, want an error naming the operation", err)
	}
	ok := map[string]http.Handler{"thing-happen": http.NotFoundHandler()}
	if err := mountEvents(api.NewRouter(), ops, ok); err != nil {
		t.Fatal(err)
	}
}

func TestHandleBeforeStart(t *testing.T) {
	rec := httptest.NewRecorder()
	New().Handle(rec, httptest.NewRequest("GET", "/stock/find/1", nil))
	if rec.Code != 503 || !strings.Contains(rec.Body.String(), "error") {
		t.Fatalf("Handle before Start = %d %s", rec.Code, rec.Body)
	}
}

// TestStartsEverything: FUNCTION=all (the whole shop in one process) starts
// when every setting is given, and serves a route of each domain.
func TestStartsEverything(t *testing.T) {
	_, srv := started(t, Config{
		Function: "all",
		OrderDSN: testenv.NewDatabase(t), StockDSN: testenv.NewDatabase(t), PaymentDSN: testenv.NewDatabase(t),
		StockURL: "http://127.0.0.1:1", PaymentURL: "http://127.0.0.1:1", Sink: "http://127.0.0.1:1",
		CheckoutTimeout: time.Second,
	})
	for _, path := range []string{"/stock/batch_init/1/1/1", "/payment/batch_init/1/1", "/orders/batch_init/1/1/1/1"} {
		if code, body := call(t, "POST", srv.URL+path); code != 200 {
			t.Errorf("POST %s = %d %v", path, code, body)
		}
	}
}
