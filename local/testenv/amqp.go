package testenv

import (
	"testing"

	amqp "github.com/rabbitmq/amqp091-go"
)

// AMQPChannel opens a channel on the RabbitMQ server at url, for a test to
// declare, publish and read with; its connection closes when the test ends.
func AMQPChannel(t testing.TB, url string) *amqp.Channel {
	t.Helper()
	conn, err := amqp.Dial(url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	ch, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	return ch
}
