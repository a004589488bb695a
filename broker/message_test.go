package broker

import (
	"errors"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/google/go-cmp/cmp"
	amqp "github.com/rabbitmq/amqp091-go"
)

// TestMessageRoundTrip: what the ingress stores is what the dispatcher
// delivers, attributes, extensions and data alike.
func TestMessageRoundTrip(t *testing.T) {
	full := event.New()
	full.SetID("order-1")
	full.SetSource("/order")
	full.SetType("shop.checkout.requested")
	full.SetSubject("order-1")
	full.SetTime(time.Date(2024, 5, 6, 7, 8, 9, 123000000, time.UTC))
	full.SetDataSchema("https://example.invalid/schema.json")
	full.SetExtension("sagaid", "s-1")
	full.SetExtension("attempt", int32(3))
	if err := full.SetData("application/json", map[string]int{"total": 42}); err != nil {
		t.Fatal(err)
	}
	minimal := event.New()
	minimal.SetID("1")
	minimal.SetSource("s")
	minimal.SetType("t")
	v03 := event.New("0.3")
	v03.SetID("2")
	v03.SetSource("s")
	v03.SetType("t")

	for name, ev := range map[string]event.Event{"full": full, "minimal": minimal, "specversion 0.3": v03} {
		t.Run(name, func(t *testing.T) {
			pub, err := toPublishing(&ev)
			if err != nil {
				t.Fatal(err)
			}
			if pub.DeliveryMode != amqp.Persistent {
				t.Error("message is not persistent")
			}
			if pub.Headers["type"] != ev.Type() {
				t.Errorf("type header = %v: a headers binding could not route it", pub.Headers["type"])
			}
			got, err := fromDelivery(&amqp.Delivery{Headers: pub.Headers, Body: pub.Body})
			if err != nil {
				t.Fatal(err)
			}
			// Extensions come back in their canonical string form, as they
			// would from an HTTP binary-mode request.
			want := ev.Clone()
			for k, v := range want.Extensions() {
				if n, ok := v.(int32); ok {
					want.SetExtension(k, string(rune('0'+n)))
				}
			}
			if diff := cmp.Diff(want.String(), got.String()); diff != "" {
				t.Errorf("round trip (-want +got):\n%s", diff)
			}
		})
	}
}

func TestFromDeliveryRejectsForeignMessages(t *testing.T) {
	tests := []struct {
		name    string
		headers amqp.Table
	}{
		{"no headers", nil},
		{"unknown specversion", amqp.Table{"specversion": "9.9", "id": "1", "source": "s", "type": "t"}},
		{"missing id", amqp.Table{"specversion": "1.0", "source": "s", "type": "t"}},
		{"non-string header", amqp.Table{"specversion": "1.0", "id": int32(1), "source": "s", "type": "t"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := fromDelivery(&amqp.Delivery{Headers: tc.headers}); !errors.Is(err, ErrNotCloudEvent) {
				t.Fatalf("err = %v, want ErrNotCloudEvent", err)
			}
		})
	}
}
