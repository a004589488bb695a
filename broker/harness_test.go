package broker

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/binding"
	"github.com/cloudevents/sdk-go/v2/event"
	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"
	amqp "github.com/rabbitmq/amqp091-go"
	eventingv1 "knative.dev/eventing/pkg/apis/eventing/v1"

	"github.com/wdm-knative/webshop/internal/eventhttp"
	"github.com/wdm-knative/webshop/local/testenv"
)

// testBroker is a Broker running against a real RabbitMQ with its ingress
// on an httptest server.
type testBroker struct {
	name    string
	amqpURL string
	ingress string
	handler http.Handler // what the ingress serves, /metrics included
	stop    func()       // stops ingress and dispatchers, waits for them
}

// triggerYAML describes a test Trigger; zero fields are left out.
type triggerYAML struct {
	name, service, uri string
	filter             map[string]string
	retry              int
	delay, policy      string
	timeout            string
	parallelism        int
	sink, sinkURI      string // deadLetterSink: Service name and uri
}

func (y triggerYAML) trigger(t testing.TB, broker string) eventingv1.Trigger {
	t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "apiVersion: eventing.knative.dev/v1\nkind: Trigger\nmetadata:\n  name: %s\n", y.name)
	if y.parallelism > 0 {
		fmt.Fprintf(&b, "  annotations:\n    %s: %q\n", ParallelismAnnotation, fmt.Sprint(y.parallelism))
	}
	fmt.Fprintf(&b, "spec:\n  broker: %s\n", broker)
	if len(y.filter) > 0 {
		b.WriteString("  filter:\n    attributes:\n")
		for k, v := range y.filter {
			fmt.Fprintf(&b, "      %s: %q\n", k, v)
		}
	}
	fmt.Fprintf(&b, "  subscriber:\n    ref: {apiVersion: serving.knative.dev/v1, kind: Service, name: %s}\n", y.service)
	if y.uri != "" {
		fmt.Fprintf(&b, "    uri: %s\n", y.uri)
	}
	b.WriteString("  delivery:\n")
	fmt.Fprintf(&b, "    retry: %d\n", y.retry)
	if y.delay != "" {
		fmt.Fprintf(&b, "    backoffDelay: %s\n", y.delay)
	}
	if y.policy != "" {
		fmt.Fprintf(&b, "    backoffPolicy: %s\n", y.policy)
	}
	if y.timeout != "" {
		fmt.Fprintf(&b, "    timeout: %s\n", y.timeout)
	}
	if y.sink != "" {
		fmt.Fprintf(&b, "    deadLetterSink:\n      ref: {apiVersion: serving.knative.dev/v1, kind: Service, name: %s}\n", y.sink)
		if y.sinkURI != "" {
			fmt.Fprintf(&b, "      uri: %q\n", y.sinkURI)
		}
	}
	ts, err := ParseTriggers([]byte(b.String()))
	if err != nil {
		t.Fatalf("trigger %s: %v\n%s", y.name, err, b.String())
	}
	return ts[0]
}

// uniqueName keeps tests that share one RabbitMQ server apart.
func uniqueName(prefix string) string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return prefix + "-" + hex.EncodeToString(b[:])
}

func testLogger() *slog.Logger {
	level := slog.LevelWarn
	if os.Getenv("BROKER_TEST_DEBUG") != "" {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
}

// startBroker runs a broker named name with the given triggers until the
// test ends (or stop is called), and deletes its queues afterwards.
func startBroker(t testing.TB, amqpURL, name string, triggers []triggerYAML, subscribers map[string]string) *testBroker {
	t.Helper()
	var ts []eventingv1.Trigger
	for _, y := range triggers {
		ts = append(ts, y.trigger(t, name))
	}
	b, err := New(Config{Name: name, AMQPURL: amqpURL, Triggers: ts, Subscribers: subscribers, Logger: testLogger()})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(b.Handler())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); b.Run(ctx) }()
	var once sync.Once
	tb := &testBroker{name: name, amqpURL: amqpURL, ingress: srv.URL, handler: srv.Config.Handler, stop: func() {
		once.Do(func() {
			srv.Close()
			cancel()
			<-done
		})
	}}
	t.Cleanup(func() {
		tb.stop()
		deleteTopology(t, amqpURL, b.topo)
	})
	waitReady(t, b)
	return tb
}

func waitReady(t testing.TB, b *Broker) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !b.Ready() {
		if time.Now().After(deadline) {
			t.Fatal("broker did not connect to RabbitMQ")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// deleteTopology removes a test broker's objects from a shared server.
func deleteTopology(t testing.TB, amqpURL string, topo topology) {
	conn, err := amqp.Dial(amqpURL)
	if err != nil {
		return // the server is gone (a test stopped it): nothing to clean
	}
	defer conn.Close()
	ch, err := conn.Channel()
	if err != nil {
		return
	}
	for _, q := range topo.queues {
		_, _ = ch.QueueDelete(q.name, false, false, false)
	}
	_, _ = ch.QueueDelete(topo.deadLetter, false, false, false)
	_, _ = ch.QueueDelete(topo.sinkQueue, false, false, false)
	_ = ch.ExchangeDelete(topo.sinkQueue, false, false)
	_ = ch.ExchangeDelete(topo.deadLetter, false, false)
	_ = ch.ExchangeDelete(topo.exchange, false, false)
}

// newEvent builds a valid event of type typ.
func newEvent(id, typ string) event.Event {
	ev := event.New()
	ev.SetID(id)
	ev.SetSource("/test")
	ev.SetType(typ)
	_ = ev.SetData("application/json", map[string]string{"id": id})
	return ev
}

// sendClient posts events to the ingress over keep-alive connections.
var sendClient = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256}, Timeout: 30 * time.Second}

// send posts ev in binary mode and returns the HTTP status.
func send(t testing.TB, url string, ev event.Event) int {
	t.Helper()
	status, err := trySend(context.Background(), url, ev)
	if err != nil {
		t.Fatalf("send %s: %v", ev.ID(), err)
	}
	return status
}

func trySend(ctx context.Context, url string, ev event.Event) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, nil)
	if err != nil {
		return 0, err
	}
	if err := cehttp.WriteRequest(binding.WithForceBinary(ctx), binding.ToMessage(&ev), req); err != nil {
		return 0, err
	}
	resp, err := sendClient.Do(req)
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, nil
}

// subscriber is a real HTTP subscriber that records what it receives and
// answers with whatever respond says.
type subscriber struct {
	*httptest.Server
	mu       sync.Mutex
	received []received
	notify   chan struct{}
	respond  func(ev *event.Event, n int) (int, *event.Event) // n counts deliveries of ev.ID()
	seen     map[string]int
}

type received struct {
	ev    *event.Event
	at    time.Time
	path  string
	query string
}

func newSubscriber(t testing.TB, respond func(ev *event.Event, n int) (int, *event.Event)) *subscriber {
	t.Helper()
	s := &subscriber{notify: make(chan struct{}, 1), respond: respond, seen: map[string]int{}}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

func (s *subscriber) serve(w http.ResponseWriter, r *http.Request) {
	msg := cehttp.NewMessageFromHttpRequest(r)
	if msg.ReadEncoding() != binding.EncodingBinary {
		http.Error(w, "want binary mode", http.StatusBadRequest)
		return
	}
	ev, err := binding.ToEvent(r.Context(), msg)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	s.received = append(s.received, received{ev: ev, at: time.Now(), path: r.URL.Path, query: r.URL.RawQuery})
	s.seen[ev.ID()]++
	n := s.seen[ev.ID()]
	s.mu.Unlock()
	select {
	case s.notify <- struct{}{}:
	default:
	}
	status, reply := http.StatusOK, (*event.Event)(nil)
	if s.respond != nil {
		status, reply = s.respond(ev, n)
	}
	if reply != nil {
		_ = cehttp.WriteResponseWriter(binding.WithForceBinary(r.Context()), binding.ToMessage(reply), status, w)
		return
	}
	w.WriteHeader(status)
	_, _ = io.Copy(w, bytes.NewReader([]byte("status "+fmt.Sprint(status))))
}

// snapshot returns what arrived so far.
func (s *subscriber) snapshot() []received {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]received(nil), s.received...)
}

// count of deliveries of one event id.
func (s *subscriber) count(id string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.seen[id]
}

// waitFor waits until cond holds for the received events.
func (s *subscriber) waitFor(t testing.TB, timeout time.Duration, what string, cond func([]received) bool) []received {
	t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		got := s.snapshot()
		if cond(got) {
			return got
		}
		select {
		case <-s.notify:
		case <-time.After(50 * time.Millisecond):
		case <-deadline.C:
			t.Fatalf("timed out waiting for %s; received %d events", what, len(got))
		}
	}
}

// ids lists the event ids received.
func ids(rs []received) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.ev.ID()
	}
	return out
}

// deadLetter waits for the one message of a broker's dead-letter queue and
// returns it as an event with its knativeerrordata decoded; none, or one
// that is no CloudEvent, fails the test (what says which dead letter).
func deadLetter(t testing.TB, amqpURL, broker, what string) (*event.Event, string) {
	t.Helper()
	dl := deadLetters(t, amqpURL, broker, 1, waitTimeout)
	if len(dl) != 1 {
		t.Fatalf("%s: dead letters = %d, want 1", what, len(dl))
	}
	ev, err := fromDelivery(&dl[0])
	if err != nil {
		t.Fatal(err)
	}
	errorData, _ := ev.Extensions()[eventhttp.ExtErrorData].(string)
	data, _ := base64.StdEncoding.DecodeString(errorData)
	return ev, string(data)
}

// deadLetters reads up to n messages from a broker's dead-letter queue,
// waiting up to timeout for them.
func deadLetters(t testing.TB, amqpURL, broker string, n int, timeout time.Duration) []amqp.Delivery {
	t.Helper()
	ch := testenv.AMQPChannel(t, amqpURL)
	var out []amqp.Delivery
	deadline := time.Now().Add(timeout)
	for len(out) < n && time.Now().Before(deadline) {
		d, ok, err := ch.Get(deadLetterName(broker), true)
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			time.Sleep(50 * time.Millisecond)
			continue
		}
		out = append(out, d)
	}
	return out
}
