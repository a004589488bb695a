package main

import (
	"bytes"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/wdm-knative/webshop/internal/eventhttp"
	"github.com/wdm-knative/webshop/schemas"
)

func TestPaidLogger(t *testing.T) {
	paid, err := schemas.New("s1:outcome", schemas.Source("saga"), schemas.TypeCheckoutPaid, schemas.CheckoutPaid{
		SagaID: "s1", OrderID: "o1", UserID: "u1", Items: []schemas.PricedItem{{ItemID: "i", Quantity: 2, UnitPrice: 3}}, TotalCost: 6})
	if err != nil {
		t.Fatal(err)
	}
	failed, err := schemas.New("s2:outcome", schemas.Source("saga"), schemas.TypeCheckoutFailed, schemas.CheckoutFailed{
		SagaID: "s2", OrderID: "o2", UserID: "u2", Reason: schemas.ReasonDeadline, EverythingReturned: true})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name    string
		event   *event.Event // nil: not a CloudEvent
		status  int
		wantLog string
	}{
		{"paid order is logged", &paid, http.StatusNoContent, `"order":"o1"`},
		{"another type is refused for good", &failed, http.StatusBadRequest, ""},
		{"not a CloudEvent", nil, http.StatusBadRequest, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var logs bytes.Buffer
			req := httptest.NewRequest(http.MethodPost, "/", strings.NewReader("{}"))
			if c.event != nil {
				req = httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(c.event.Data()))
				eventhttp.WriteBinary(req.Header, *c.event)
			}
			rec := httptest.NewRecorder()
			paidLogger(slog.New(slog.NewJSONHandler(&logs, nil))).ServeHTTP(rec, req)
			if rec.Code != c.status {
				t.Errorf("status %d, want %d", rec.Code, c.status)
			}
			if got := logs.String(); c.wantLog != "" && !strings.Contains(got, c.wantLog) || c.wantLog == "" && got != "" {
				t.Errorf("log %q, want it to hold %q", got, c.wantLog)
			}
		})
	}
}
