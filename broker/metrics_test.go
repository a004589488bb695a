package broker

import (
	"net/http"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/wdm-knative/webshop/internal/metrics/metricstest"
	"github.com/wdm-knative/webshop/local/testenv"
)

// TestMetrics: GET /metrics on the ingress counts confirmed publishes (from
// the ingress and from replies), events no Trigger takes (accepted, acked
// and dropped unpublished), and per Trigger the acked deliveries by
// status, the retries and the dead letters.
func TestMetrics(t *testing.T) {
	amqpURL := testenv.AMQPURL(t)
	replying := newSubscriber(t, func(ev *event.Event, _ int) (int, *event.Event) {
		reply := newEvent(ev.ID()+"-reply", "to.sink")
		return http.StatusOK, &reply
	})
	sink := newSubscriber(t, func(*event.Event, int) (int, *event.Event) { return http.StatusNoContent, nil })
	flaky := newSubscriber(t, func(_ *event.Event, n int) (int, *event.Event) {
		return []int{http.StatusServiceUnavailable, http.StatusOK}[min(n-1, 1)], nil
	})
	down := newSubscriber(t, func(*event.Event, int) (int, *event.Event) { return http.StatusInternalServerError, nil })
	refusing := newSubscriber(t, func(*event.Event, int) (int, *event.Event) { return http.StatusBadRequest, nil })
	// Its reply is of a type no Trigger takes: acked, not published.
	nowhere := newSubscriber(t, func(ev *event.Event, _ int) (int, *event.Event) {
		reply := newEvent(ev.ID()+"-reply", "to.nobody")
		return http.StatusOK, &reply
	})
	name := uniqueName("metrics")
	b := startBroker(t, amqpURL, name, []triggerYAML{
		{name: "replying", service: "replying", filter: map[string]string{"type": "to.replying"}},
		{name: "sink", service: "sink", filter: map[string]string{"type": "to.sink"}},
		{name: "flaky", service: "flaky", filter: map[string]string{"type": "to.flaky"}, retry: 2, delay: "PT0.05S", policy: "linear"},
		{name: "down", service: "down", filter: map[string]string{"type": "to.down"}, retry: 2, delay: "PT0.05S", policy: "linear"},
		{name: "refusing", service: "refusing", filter: map[string]string{"type": "to.refusing"}, retry: 2, delay: "PT0.05S"},
		{name: "nowhere", service: "nowhere", filter: map[string]string{"type": "to.nowhere"}},
	}, map[string]string{"replying": replying.URL, "sink": sink.URL, "flaky": flaky.URL, "down": down.URL, "refusing": refusing.URL,
		"nowhere": nowhere.URL})

	for _, typ := range []string{"to.replying", "to.flaky", "to.down", "to.refusing", "to.nowhere", "to.nobody"} {
		if got := send(t, b.ingress, newEvent(typ+"-1", typ)); got != http.StatusAccepted {
			t.Fatalf("ingress status = %d", got)
		}
	}

	want := map[string]float64{
		metricstest.Key("wdm_broker_published_total", "source", "ingress"):                  5,
		metricstest.Key("wdm_broker_published_total", "source", "reply"):                    1,
		metricstest.Key("wdm_broker_unrouted_total", "source", "ingress"):                   1,
		metricstest.Key("wdm_broker_unrouted_total", "source", "reply"):                     1,
		metricstest.Key("wdm_broker_delivered_total", "trigger", "nowhere", "code", "200"):  1,
		metricstest.Key("wdm_broker_delivered_total", "trigger", "replying", "code", "200"): 1,
		metricstest.Key("wdm_broker_delivered_total", "trigger", "sink", "code", "204"):     1,
		metricstest.Key("wdm_broker_delivered_total", "trigger", "flaky", "code", "200"):    1,
		metricstest.Key("wdm_broker_delivered_total", "trigger", "refusing", "code", "400"): 1,
		metricstest.Key("wdm_broker_retries_total", "trigger", "flaky"):                     1,
		metricstest.Key("wdm_broker_retries_total", "trigger", "down"):                      2,
		metricstest.Key("wdm_broker_retries_total", "trigger", "refusing"):                  0,
		metricstest.Key("wdm_broker_retries_total", "trigger", "sink"):                      0,
		metricstest.Key("wdm_broker_dead_letters_total", "trigger", "down"):                 1,
		metricstest.Key("wdm_broker_dead_letters_total", "trigger", "refusing"):             0,
		metricstest.Key("wdm_broker_refused_total", "trigger", "refusing", "code", "400"):   1,
	}
	// Deliveries are counted once acked, after the subscriber answered:
	// wait for all of them, then let a wrong extra count show up.
	scrape := func() metricstest.Samples { return metricstest.Scrape(t, b.handler) }
	deadline := time.Now().Add(waitTimeout)
	for !matches(scrape(), want) && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond)
	got := scrape()
	for k, v := range want {
		if w, ok := got[k]; !ok || w != v {
			t.Errorf("%s = %v (exported: %v), want %v", k, w, ok, v)
		}
	}
	if n := got.Get("wdm_broker_refused_total", "trigger", "down", "code", "500"); n != 0 {
		t.Errorf("a dead-lettered event counted as refused %v times", n)
	}
	if n := got.Get("wdm_broker_delivered_total", "trigger", "down", "code", "500"); n != 0 {
		t.Errorf("a dead-lettered event counted as delivered %v times", n)
	}
}

func matches(got, want metricstest.Samples) bool {
	for k, v := range want {
		if got[k] != v {
			return false
		}
	}
	return true
}
