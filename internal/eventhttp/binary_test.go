package eventhttp

import (
	"bytes"
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"
)

// TestBinaryAgreesWithTheSDK holds the hand-written binary binding to the
// SDK's, both ways, for events with every attribute the project uses.
func TestBinaryAgreesWithTheSDK(t *testing.T) {
	full := event.New()
	full.SetID("s1:requested")
	full.SetSource("/webshop/order-checkout")
	full.SetType("shop.checkout.requested")
	full.SetSubject("s1")
	full.SetDataSchema("https://example.com/schemas/checkout.requested.json")
	full.SetTime(time.Date(2026, 11, 30, 12, 0, 0, 123000000, time.UTC))
	full.SetExtension("knativeerrorcode", "500")
	full.SetExtension("knativeerrordest", "http://stock/events/stock-reserve")
	if err := full.SetData(event.ApplicationJSON, map[string]string{"saga_id": "s1"}); err != nil {
		t.Fatal(err)
	}
	bare := event.New()
	bare.SetID("x")
	bare.SetSource("/test")
	bare.SetType("dev.knative.sources.ping")

	for name, e := range map[string]event.Event{"every attribute": full, "no data, no subject": bare} {
		t.Run(name+"/ours to SDK", func(t *testing.T) {
			h := http.Header{}
			req, _ := http.NewRequest(http.MethodPost, "http://x/", bytes.NewReader(writeBinary(h, e)))
			req.Header = h
			got, err := cehttp.NewEventFromHTTPRequest(req)
			if err != nil {
				t.Fatal(err)
			}
			same(t, *got, e)
		})
		t.Run(name+"/SDK to ours", func(t *testing.T) {
			req, err := cehttp.NewHTTPRequestFromEvent(context.Background(), "http://x/", e)
			if err != nil {
				t.Fatal(err)
			}
			got, err := readBinary(req.Header, req.Body)
			if err != nil {
				t.Fatal(err)
			}
			same(t, got, e)
		})
	}
	t.Run("structured mode is not binary", func(t *testing.T) {
		h := http.Header{"Content-Type": {event.ApplicationCloudEventsJSON}}
		if _, err := readBinary(h, http.NoBody); err != errNotBinary {
			t.Errorf("got %v, want errNotBinary", err)
		}
	})
}

func same(t *testing.T, got, want event.Event) {
	t.Helper()
	if err := got.Validate(); err != nil {
		t.Fatal(err)
	}
	if got.ID() != want.ID() || got.Source() != want.Source() || got.Type() != want.Type() ||
		got.Subject() != want.Subject() || got.DataSchema() != want.DataSchema() || !got.Time().Equal(want.Time()) ||
		!bytes.Equal(got.Data(), want.Data()) || got.DataContentType() != want.DataContentType() {
		t.Errorf("got %s\nwant %s", got, want)
	}
	for k, v := range want.Extensions() {
		if got.Extensions()[k] != v {
			t.Errorf("extension %s = %v, want %v", k, got.Extensions()[k], v)
		}
	}
}
