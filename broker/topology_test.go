package broker

import (
	"testing"

	amqp "github.com/rabbitmq/amqp091-go"
)

// TestRoutable: the broker drops what no binding of the exchange would
// route (x-match all on each Trigger's filter), and publishes the rest.
func TestRoutable(t *testing.T) {
	topo := topology{queues: []boundQueue{
		{name: "reserve", filter: map[string]string{"type": "shop.checkout.requested"}},
		{name: "step", filter: map[string]string{"type": "shop.stock.reserved", "source": "/webshop/stock-reserve"}},
	}}
	tests := []struct {
		name    string
		topo    topology
		headers amqp.Table
		want    bool
	}{
		{"type matches", topo, amqp.Table{"type": "shop.checkout.requested", "source": "x"}, true},
		{"every attribute matches", topo, amqp.Table{"type": "shop.stock.reserved", "source": "/webshop/stock-reserve"}, true},
		{"one attribute differs", topo, amqp.Table{"type": "shop.stock.reserved", "source": "/other"}, false},
		{"attribute missing", topo, amqp.Table{"type": "shop.stock.reserved"}, false},
		{"no Trigger takes the type", topo, amqp.Table{"type": "shop.checkout.paid"}, false},
		{"not a string", topo, amqp.Table{"type": []byte("shop.checkout.requested")}, false},
		{"empty filter takes everything", topology{queues: []boundQueue{{name: "all", filter: map[string]string{}}}},
			amqp.Table{"type": "anything"}, true},
		{"no Triggers", topology{}, amqp.Table{"type": "shop.checkout.requested"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.topo.routable(tt.headers); got != tt.want {
				t.Errorf("routable(%v) = %v, want %v", tt.headers, got, tt.want)
			}
		})
	}
}
