package broker

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/wdm-knative/webshop/internal/eventhttp"
	"github.com/wdm-knative/webshop/local/testenv"
)

const waitTimeout = 20 * time.Second

// TestFanOutAndFilters: one event reaches every Trigger whose attribute
// filter matches it (all attributes, exactly), and no other.
func TestFanOutAndFilters(t *testing.T) {
	amqpURL := testenv.AMQPURL(t)
	stock, payment, saga, audit := newSubscriber(t, nil), newSubscriber(t, nil), newSubscriber(t, nil), newSubscriber(t, nil)
	name := uniqueName("fanout")
	b := startBroker(t, amqpURL, name, []triggerYAML{
		{name: "stock", service: "stock", uri: "/events/stock", filter: map[string]string{"type": "shop.checkout.requested"}},
		{name: "payment", service: "payment", uri: "/events/payment", filter: map[string]string{"type": "shop.checkout.requested"}},
		{name: "saga", service: "saga", filter: map[string]string{"type": "shop.stock.reserved"}},
		// Two attributes: both must match (x-match all).
		{name: "audit", service: "audit", filter: map[string]string{"type": "shop.stock.reserved", "source": "/audited"}},
	}, map[string]string{"stock": stock.URL, "payment": payment.URL, "saga": saga.URL, "audit": audit.URL})

	if got := send(t, b.ingress, newEvent("c1", "shop.checkout.requested")); got != http.StatusAccepted {
		t.Fatalf("ingress status = %d, want 202", got)
	}
	audited := newEvent("r2", "shop.stock.reserved")
	audited.SetSource("/audited")
	for _, ev := range []event.Event{newEvent("r1", "shop.stock.reserved"), audited, newEvent("x1", "shop.unrouted")} {
		if got := send(t, b.ingress, ev); got != http.StatusAccepted {
			t.Fatalf("ingress status = %d, want 202", got)
		}
	}

	has := func(want ...string) func([]received) bool {
		return func(rs []received) bool { return len(rs) >= len(want) }
	}
	tests := []struct {
		name string
		sub  *subscriber
		want []string
		path string
	}{
		{"stock gets checkout", stock, []string{"c1"}, "/events/stock"},
		{"payment gets checkout", payment, []string{"c1"}, "/events/payment"},
		{"saga gets both reserved", saga, []string{"r1", "r2"}, "/"},
		{"audit gets only the audited one", audit, []string{"r2"}, "/"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := tc.sub.waitFor(t, waitTimeout, tc.name, has(tc.want...))
			time.Sleep(200 * time.Millisecond) // let a wrong extra delivery show up
			got = tc.sub.snapshot()
			gotIDs := ids(got)
			slices.Sort(gotIDs)
			if !slices.Equal(gotIDs, tc.want) {
				t.Errorf("received %v, want %v", gotIDs, tc.want)
			}
			if tc.path != "/" && got[0].path != tc.path {
				t.Errorf("delivered to path %q, want %q", got[0].path, tc.path)
			}
		})
	}
}

// TestReplyRouting: a reply event in a subscriber's 2xx response goes back
// through the broker to the Triggers that select its type.
func TestReplyRouting(t *testing.T) {
	amqpURL := testenv.AMQPURL(t)
	stock := newSubscriber(t, func(ev *event.Event, _ int) (int, *event.Event) {
		reply := newEvent(ev.ID()+"-reserved", "shop.stock.reserved")
		reply.SetExtension("sagaid", ev.ID())
		return http.StatusOK, &reply
	})
	saga := newSubscriber(t, nil)
	name := uniqueName("reply")
	b := startBroker(t, amqpURL, name, []triggerYAML{
		{name: "stock", service: "stock", filter: map[string]string{"type": "shop.checkout.requested"}},
		{name: "saga", service: "saga", filter: map[string]string{"type": "shop.stock.reserved"}},
	}, map[string]string{"stock": stock.URL, "saga": saga.URL})

	if got := send(t, b.ingress, newEvent("o1", "shop.checkout.requested")); got != http.StatusAccepted {
		t.Fatalf("ingress status = %d", got)
	}
	got := saga.waitFor(t, waitTimeout, "reply at saga", func(rs []received) bool { return len(rs) >= 1 })
	if got[0].ev.ID() != "o1-reserved" || got[0].ev.Extensions()["sagaid"] != "o1" {
		t.Errorf("saga received %v, want reply o1-reserved with sagaid o1", got[0].ev)
	}
	if n := stock.count("o1"); n != 1 {
		t.Errorf("stock received o1 %d times, want 1 (the original was acked after the reply)", n)
	}
}

// TestRetryThenDeadLetter: retryable failures are retried with backoff per
// spec.delivery, then the event goes to the dead-letter queue carrying
// Knative's error extensions; non-retryable ones are acked at once.
func TestRetryThenDeadLetter(t *testing.T) {
	amqpURL := testenv.AMQPURL(t)
	down := newSubscriber(t, func(*event.Event, int) (int, *event.Event) { return http.StatusServiceUnavailable, nil })
	flaky := newSubscriber(t, func(_ *event.Event, n int) (int, *event.Event) {
		// 404, 429 then success: both codes count as transient.
		return []int{http.StatusNotFound, http.StatusTooManyRequests, http.StatusOK}[min(n-1, 2)], nil
	})
	refusing := newSubscriber(t, func(*event.Event, int) (int, *event.Event) { return http.StatusBadRequest, nil })
	name := uniqueName("retry")
	b := startBroker(t, amqpURL, name, []triggerYAML{
		{name: "down", service: "down", uri: "/events/down", filter: map[string]string{"type": "to.down"},
			retry: 3, delay: "PT0.1S", policy: "exponential"},
		{name: "flaky", service: "flaky", filter: map[string]string{"type": "to.flaky"}, retry: 5, delay: "PT0.1S", policy: "linear"},
		{name: "refusing", service: "refusing", filter: map[string]string{"type": "to.refusing"}, retry: 5, delay: "PT0.1S"},
	}, map[string]string{"down": down.URL, "flaky": flaky.URL, "refusing": refusing.URL})

	for _, ev := range []event.Event{newEvent("d1", "to.down"), newEvent("f1", "to.flaky"), newEvent("n1", "to.refusing")} {
		if got := send(t, b.ingress, ev); got != http.StatusAccepted {
			t.Fatalf("ingress status = %d", got)
		}
	}

	t.Run("exponential retries then dead letter", func(t *testing.T) {
		got := down.waitFor(t, waitTimeout, "4 attempts", func(rs []received) bool { return len(rs) >= 4 })
		// Waits of 0.2, 0.4 and 0.8 s between the four attempts.
		for i, want := range []time.Duration{200, 400, 800} {
			gap := got[i+1].at.Sub(got[i].at)
			if gap < want*time.Millisecond || gap > want*time.Millisecond+time.Second {
				t.Errorf("wait before retry %d = %v, want about %v ms", i+1, gap, want)
			}
		}
		ev, data := deadLetter(t, amqpURL, name, "d1 after its retries")
		checks := map[string]bool{
			"id d1":                     ev.ID() == "d1",
			"knativeerrorcode 503":      ev.Extensions()[eventhttp.ExtErrorCode] == "503",
			"knativeerrordest target":   ev.Extensions()[eventhttp.ExtErrorDest] == down.URL+"/events/down",
			"knativeerrordata its body": data == "status 503",
		}
		for what, ok := range checks {
			if !ok {
				t.Errorf("dead letter: want %s; got %v", what, ev)
			}
		}
		time.Sleep(300 * time.Millisecond)
		if n := down.count("d1"); n != 4 {
			t.Errorf("attempts = %d, want 1 + 3 retries", n)
		}
	})
	t.Run("transient failures then success", func(t *testing.T) {
		flaky.waitFor(t, waitTimeout, "3 attempts", func(rs []received) bool { return len(rs) >= 3 })
		time.Sleep(500 * time.Millisecond)
		if n := flaky.count("f1"); n != 3 {
			t.Errorf("attempts = %d, want 3 (stop after the first success)", n)
		}
	})
	t.Run("non-retryable status is acked", func(t *testing.T) {
		refusing.waitFor(t, waitTimeout, "1 attempt", func(rs []received) bool { return len(rs) >= 1 })
		time.Sleep(500 * time.Millisecond)
		if n := refusing.count("n1"); n != 1 {
			t.Errorf("attempts = %d, want 1", n)
		}
	})
	// Only d1 was dead-lettered.
	if extra := deadLetters(t, amqpURL, name, 1, 300*time.Millisecond); len(extra) != 0 {
		t.Errorf("unexpected dead letters: %d", len(extra))
	}
}

// TestIngress: invalid input gets 4xx and never reaches a subscriber; valid
// events in either content mode get 202.
func TestIngress(t *testing.T) {
	amqpURL := testenv.AMQPURL(t)
	sub := newSubscriber(t, nil)
	name := uniqueName("ingress")
	b := startBroker(t, amqpURL, name, []triggerYAML{{name: "all", service: "all"}}, map[string]string{"all": sub.URL})

	structured := `{"specversion":"1.0","id":"s1","source":"/test","type":"t","data":{"a":1}}`
	tests := []struct {
		name    string
		method  string
		path    string
		headers map[string]string
		body    string
		want    int
	}{
		{"structured", http.MethodPost, "/", map[string]string{"Content-Type": "application/cloudevents+json"}, structured, http.StatusAccepted},
		{"binary on namespaced path", http.MethodPost, "/default/" + name, map[string]string{
			"Ce-Specversion": "1.0", "Ce-Id": "b1", "Ce-Source": "/test", "Ce-Type": "t", "Content-Type": "application/json"}, `{}`, http.StatusAccepted},
		{"plain JSON is not an event", http.MethodPost, "/", map[string]string{"Content-Type": "application/json"}, `{"a":1}`, http.StatusBadRequest},
		{"binary without id", http.MethodPost, "/", map[string]string{
			"Ce-Specversion": "1.0", "Ce-Source": "/test", "Ce-Type": "t"}, ``, http.StatusBadRequest},
		{"structured without type", http.MethodPost, "/", map[string]string{"Content-Type": "application/cloudevents+json"},
			`{"specversion":"1.0","id":"s2","source":"/test"}`, http.StatusBadRequest},
		{"structured garbage", http.MethodPost, "/", map[string]string{"Content-Type": "application/cloudevents+json"}, `{"specversion":`, http.StatusBadRequest},
		{"unknown specversion", http.MethodPost, "/", map[string]string{
			"Ce-Specversion": "7.0", "Ce-Id": "b2", "Ce-Source": "/test", "Ce-Type": "t"}, ``, http.StatusBadRequest},
		{"batch", http.MethodPost, "/", map[string]string{"Content-Type": "application/cloudevents-batch+json"}, `[` + structured + `]`, http.StatusBadRequest},
		{"too large", http.MethodPost, "/", map[string]string{"Content-Type": "application/cloudevents+json"},
			`{"specversion":"1.0","id":"big","source":"/test","type":"t","data":"` + strings.Repeat("x", maxEventBytes) + `"}`,
			http.StatusRequestEntityTooLarge},
		{"other broker", http.MethodPost, "/default/other", map[string]string{"Content-Type": "application/cloudevents+json"}, structured, http.StatusNotFound},
		{"GET", http.MethodGet, "/", nil, ``, http.StatusMethodNotAllowed},
		{"health", http.MethodGet, "/health", nil, ``, http.StatusOK},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequest(tc.method, b.ingress+tc.path, strings.NewReader(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			for k, v := range tc.headers {
				req.Header.Set(k, v)
			}
			resp, err := sendClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tc.want {
				t.Errorf("status = %d, want %d", resp.StatusCode, tc.want)
			}
		})
	}
	got := sub.waitFor(t, waitTimeout, "the two valid events", func(rs []received) bool { return len(rs) >= 2 })
	time.Sleep(300 * time.Millisecond)
	gotIDs := ids(sub.snapshot())
	slices.Sort(gotIDs)
	if !slices.Equal(gotIDs, []string{"b1", "s1"}) {
		t.Errorf("delivered %v, want only [b1 s1]", gotIDs)
	}
	for _, r := range got {
		if r.ev.ID() == "s1" && string(r.ev.Data()) != `{"a":1}` {
			t.Errorf("structured event data = %s, want {\"a\":1}", r.ev.Data())
		}
	}
}

// TestDuplicates: the broker does not deduplicate (Knative's is
// at-least-once too): the same event sent twice is accepted and delivered
// twice, and the subscriber is expected to cope.
func TestDuplicates(t *testing.T) {
	amqpURL := testenv.AMQPURL(t)
	sub := newSubscriber(t, nil)
	name := uniqueName("dup")
	b := startBroker(t, amqpURL, name, []triggerYAML{{name: "all", service: "all", parallelism: 4}}, map[string]string{"all": sub.URL})
	ev := newEvent("same", "t")
	for range 2 {
		if got := send(t, b.ingress, ev); got != http.StatusAccepted {
			t.Fatalf("status = %d", got)
		}
	}
	sub.waitFor(t, waitTimeout, "both copies", func(rs []received) bool { return len(rs) >= 2 })
	if n := sub.count("same"); n != 2 {
		t.Errorf("deliveries = %d, want 2", n)
	}
}

// TestInvalidReplyDeadLettered: a 2xx whose reply is not a valid CloudEvent
// cannot be routed; retrying would not change the handler's output, so the
// original is dead-lettered at once with the reason.
func TestInvalidReplyDeadLettered(t *testing.T) {
	amqpURL := testenv.AMQPURL(t)
	var calls atomic.Int32
	sub := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		calls.Add(1)
		w.Header().Set("Ce-Specversion", "1.0")
		w.Header().Set("Ce-Type", "shop.stock.reserved") // no id, no source
		w.WriteHeader(http.StatusOK)
	}))
	defer sub.Close()
	name := uniqueName("badreply")
	b := startBroker(t, amqpURL, name, []triggerYAML{{name: "all", service: "all", retry: 3, delay: "PT0.1S"}},
		map[string]string{"all": sub.URL})
	if got := send(t, b.ingress, newEvent("o1", "shop.checkout.requested")); got != http.StatusAccepted {
		t.Fatalf("status = %d", got)
	}
	ev, data := deadLetter(t, amqpURL, name, "o1 with an invalid reply")
	if ev.ID() != "o1" || ev.Extensions()[eventhttp.ExtErrorCode] != "200" || !strings.Contains(data, "invalid reply") {
		t.Errorf("dead letter = %v (data %q), want o1 with code 200 and the reason", ev, data)
	}
	if n := calls.Load(); n != 1 {
		t.Errorf("attempts = %d, want 1", n)
	}
}
