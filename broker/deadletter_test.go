package broker

import (
	"encoding/base64"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	amqp "github.com/rabbitmq/amqp091-go"
	eventingv1 "knative.dev/eventing/pkg/apis/eventing/v1"

	"github.com/wdm-knative/webshop/internal/eventhttp"
	"github.com/wdm-knative/webshop/internal/metrics/metricstest"
	"github.com/wdm-knative/webshop/local/testenv"
)

// TestDeadLetterSink: an event whose retries ran out reaches the Trigger's
// deadLetterSink (at its uri, query included) with Knative's error
// extensions; a sink that is down keeps it coming until the sink takes it,
// and nothing is parked.
func TestDeadLetterSink(t *testing.T) {
	amqpURL := testenv.AMQPURL(t)
	down := newSubscriber(t, func(*event.Event, int) (int, *event.Event) { return http.StatusInternalServerError, nil })
	sink := newSubscriber(t, func(_ *event.Event, n int) (int, *event.Event) {
		// Down twice (as while the dead-letter process restarts), then up.
		return []int{http.StatusServiceUnavailable, http.StatusBadGateway, http.StatusNoContent}[min(n-1, 2)], nil
	})
	name := uniqueName("dls")
	b := startBroker(t, amqpURL, name, []triggerYAML{
		{name: "down", service: "down", uri: "/events/down", filter: map[string]string{"type": "to.down"},
			retry: 1, delay: "PT0.05S", sink: "dead-letter", sinkURI: "/events/dead-letter?trigger=down"},
	}, map[string]string{"down": down.URL, "dead-letter": sink.URL})

	if got := send(t, b.ingress, newEvent("d1", "to.down")); got != http.StatusAccepted {
		t.Fatalf("ingress status = %d", got)
	}
	got := sink.waitFor(t, waitTimeout, "3 attempts at the sink", func(rs []received) bool { return len(rs) >= 3 })
	last := got[2]
	data, _ := base64.StdEncoding.DecodeString(last.ev.Extensions()[eventhttp.ExtErrorData].(string))
	checks := map[string]bool{
		"id d1":                   last.ev.ID() == "d1",
		"path of the sink's uri":  last.path == "/events/dead-letter",
		"query names the trigger": last.query == "trigger=down",
		"knativeerrorcode 500":    last.ev.Extensions()[eventhttp.ExtErrorCode] == "500",
		"knativeerrordest":        last.ev.Extensions()[eventhttp.ExtErrorDest] == down.URL+"/events/down",
		"knativeerrordata":        string(data) == "status 500",
		"no broker-internal ext":  !strings.Contains(strings.Join(keys(last.ev.Extensions()), ","), "sink"),
	}
	for what, ok := range checks {
		if !ok {
			t.Errorf("dead letter at the sink: want %s; got %v (path %s?%s)", what, last.ev, last.path, last.query)
		}
	}
	time.Sleep(500 * time.Millisecond)
	if n := sink.count("d1"); n != 3 {
		t.Errorf("sink attempts = %d, want 3 (stop once taken)", n)
	}
	if parked := deadLetters(t, amqpURL, name, 1, 300*time.Millisecond); len(parked) != 0 {
		t.Errorf("%d dead letters parked, want 0: the sink took it", len(parked))
	}
	if n := metricstest.Scrape(t, b.handler).Get("wdm_broker_dead_letter_sink_delivered_total"); n != 1 {
		t.Errorf("wdm_broker_dead_letter_sink_delivered_total = %v, want 1", n)
	}
}

// TestDeadLetterSinkRefusal: a sink that refuses a dead letter for good
// gets it parked in the dead-letter queue, not dropped.
func TestDeadLetterSinkRefusal(t *testing.T) {
	amqpURL := testenv.AMQPURL(t)
	down := newSubscriber(t, func(*event.Event, int) (int, *event.Event) { return http.StatusInternalServerError, nil })
	sink := newSubscriber(t, func(*event.Event, int) (int, *event.Event) { return http.StatusBadRequest, nil })
	name := uniqueName("dlsrefused")
	b := startBroker(t, amqpURL, name, []triggerYAML{
		{name: "down", service: "down", filter: map[string]string{"type": "to.down"}, sink: "dead-letter"},
	}, map[string]string{"down": down.URL, "dead-letter": sink.URL})
	if got := send(t, b.ingress, newEvent("d1", "to.down")); got != http.StatusAccepted {
		t.Fatalf("ingress status = %d", got)
	}
	ev, _ := deadLetter(t, amqpURL, name, "refused dead letter parked")
	if ev.ID() != "d1" || ev.Extensions()[eventhttp.ExtErrorCode] != "500" {
		t.Errorf("parked = %v, want d1 with its error extensions", ev)
	}
	if n := sink.count("d1"); n != 1 {
		t.Errorf("sink attempts = %d, want 1", n)
	}
}

// TestUnresolvableDeadLetterSink: a sink the broker cannot address is a
// configuration error at start, as an unresolvable subscriber is.
func TestUnresolvableDeadLetterSink(t *testing.T) {
	tr := triggerYAML{name: "t", service: "s", sink: "nowhere"}.trigger(t, "shop")
	_, err := New(Config{Name: "shop", Triggers: []eventingv1.Trigger{tr}, Subscribers: map[string]string{"s": "http://127.0.0.1:1"}})
	if !errors.Is(err, ErrUnresolvedSubscriber) {
		t.Fatalf("err = %v, want %v", err, ErrUnresolvedSubscriber)
	}
}

// TestReplyNotPublishedDeadLettered: when the reply of a 2xx cannot be
// published, the original is acked and dead-lettered, as eventing-rabbitmq
// does, not delivered again.
func TestReplyNotPublishedDeadLettered(t *testing.T) {
	amqpURL := testenv.AMQPURL(t)
	name := uniqueName("replyfail")
	sub := newSubscriber(t, func(ev *event.Event, _ int) (int, *event.Event) {
		// The reply's exchange disappears while the subscriber works, so
		// RabbitMQ refuses the reply; the dead-letter exchange stays.
		deleteExchange(t, amqpURL, exchangeName(name))
		reply := newEvent(ev.ID()+"-reply", "to.sink")
		return http.StatusOK, &reply
	})
	// A Trigger takes the reply's type, so the broker does publish it.
	sink := newSubscriber(t, func(*event.Event, int) (int, *event.Event) { return http.StatusNoContent, nil })
	b := startBroker(t, amqpURL, name, []triggerYAML{
		{name: "replying", service: "replying", filter: map[string]string{"type": "to.replying"}, retry: 3, delay: "PT0.05S"},
		{name: "sink", service: "sink", filter: map[string]string{"type": "to.sink"}},
	}, map[string]string{"replying": sub.URL, "sink": sink.URL})
	if got := send(t, b.ingress, newEvent("r1", "to.replying")); got != http.StatusAccepted {
		t.Fatalf("ingress status = %d", got)
	}
	ev, data := deadLetter(t, amqpURL, name, "the original whose reply was lost")
	if ev.ID() != "r1" || ev.Extensions()[eventhttp.ExtErrorCode] != "200" || !strings.Contains(data, "reply not published") {
		t.Errorf("dead letter = %v (data %q), want r1 with code 200 and the reason", ev, data)
	}
	time.Sleep(time.Second)
	if n := sub.count("r1"); n != 1 {
		t.Errorf("subscriber got r1 %d times, want 1: the original must not be requeued", n)
	}
	got := metricstest.Scrape(t, b.handler)
	if n := got.Get("wdm_broker_dead_letters_total", "trigger", "replying"); n != 1 {
		t.Errorf("dead letters counted = %v, want 1", n)
	}
	if n := got.Get("wdm_broker_published_total", "source", "reply"); n != 0 {
		t.Errorf("replies counted as published = %v, want 0", n)
	}
}

func deleteExchange(t testing.TB, amqpURL, name string) {
	conn, err := amqp.Dial(amqpURL)
	if err != nil {
		t.Error(err)
		return
	}
	defer conn.Close()
	ch, err := conn.Channel()
	if err != nil {
		t.Error(err)
		return
	}
	if err := ch.ExchangeDelete(name, false, false); err != nil {
		t.Error(err)
	}
}

func keys(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}
