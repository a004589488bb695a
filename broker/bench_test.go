package broker

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wdm-knative/webshop/local/testenv"
)

// The broker benchmarks measure one hop end to end: ingress POST (with the
// publisher confirm of a persistent message on a quorum queue) through the
// dispatcher to a subscriber's 2xx. Run them alone:
//
//	go test ./broker -run '^$' -bench . -benchtime 20000x
//
// events/s is throughput under saturation; p50-ms / p99-ms are the times
// from the start of the ingress POST to the subscriber receiving the event.

// hopRecorder pairs send times with receive times by event id.
type hopRecorder struct {
	mu       sync.Mutex
	ingress  []time.Duration // POST until 202
	sent     map[string]time.Time
	hops     []time.Duration
	received atomic.Int64
	all      chan struct{} // closed when want events arrived
	want     int64
}

func newHopRecorder(want int) *hopRecorder {
	return &hopRecorder{sent: make(map[string]time.Time, want), hops: make([]time.Duration, 0, want),
		all: make(chan struct{}), want: int64(want)}
}

func (h *hopRecorder) markSent(id string, at time.Time) {
	h.mu.Lock()
	h.sent[id] = at
	h.mu.Unlock()
}

// ServeHTTP is the subscriber: as cheap as possible, so the figures are the broker's.
func (h *hopRecorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	now := time.Now()
	_, _ = io.Copy(io.Discard, r.Body)
	id := r.Header.Get("Ce-Id")
	h.mu.Lock()
	at, ok := h.sent[id]
	if ok {
		delete(h.sent, id) // count each event once, even if redelivered
		h.hops = append(h.hops, now.Sub(at))
	}
	h.mu.Unlock()
	w.WriteHeader(http.StatusAccepted)
	if ok && h.received.Add(1) == h.want {
		close(h.all)
	}
}

func (h *hopRecorder) report(b *testing.B) {
	h.mu.Lock()
	defer h.mu.Unlock()
	slices.Sort(h.hops)
	q := func(p float64) float64 {
		if len(h.hops) == 0 {
			return 0
		}
		return float64(h.hops[min(len(h.hops)-1, int(p*float64(len(h.hops))))]) / float64(time.Millisecond)
	}
	b.ReportMetric(q(0.50), "p50-ms")
	b.ReportMetric(q(0.99), "p99-ms")
	if len(h.ingress) > 0 {
		slices.Sort(h.ingress)
		b.ReportMetric(float64(h.ingress[len(h.ingress)*99/100])/float64(time.Millisecond), "ingress-p99-ms")
		b.ReportMetric(float64(h.ingress[len(h.ingress)/2])/float64(time.Millisecond), "ingress-p50-ms")
	}
}

// benchBroker starts a broker with one Trigger (parallelism as the
// manifest gives the checkout's hot path) and a recording subscriber.
func benchBroker(b *testing.B, h *hopRecorder) *testBroker {
	sub := httptest.NewUnstartedServer(h)
	sub.Config.SetKeepAlivesEnabled(true)
	sub.Start()
	b.Cleanup(sub.Close)
	return startBroker(b, testenv.AMQPURL(b), uniqueName("bench"), []triggerYAML{
		{name: "hot", service: "hot", uri: "/events/hot", filter: map[string]string{"type": "shop.checkout.requested"},
			parallelism: 32, retry: 3, delay: "PT0.1S"},
	}, map[string]string{"hot": sub.URL})
}

// postEvent sends a small binary-mode event, like a function's K_SINK call.
func postEvent(client *http.Client, url, id string, body []byte) error {
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Ce-Specversion", "1.0")
	req.Header.Set("Ce-Id", id)
	req.Header.Set("Ce-Source", "/order-checkout")
	req.Header.Set("Ce-Type", "shop.checkout.requested")
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		return fmt.Errorf("ingress status %d", resp.StatusCode)
	}
	return nil
}

var benchBody = []byte(`{"order_id":"3f2a9c1e-0d4b-4c55-9b1a-2f6e8d7c9a10","user_id":"42","items":[{"item_id":"7","quantity":2}],"total":300}`)

// BenchmarkThroughput saturates the broker with 64 concurrent senders.
func BenchmarkThroughput(b *testing.B) {
	h := newHopRecorder(b.N)
	tb := benchBroker(b, h)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 128}}
	const senders = 64
	var next atomic.Int64
	var failed atomic.Int64
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	for range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				n := next.Add(1)
				if n > int64(b.N) {
					return
				}
				id := fmt.Sprintf("e%d", n)
				h.markSent(id, time.Now())
				if err := postEvent(client, tb.ingress, id, benchBody); err != nil {
					failed.Add(1)
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if failed.Load() == 0 {
		select {
		case <-h.all:
		case <-time.After(2 * time.Minute):
			b.Fatalf("only %d of %d events delivered", h.received.Load(), b.N)
		}
	}
	elapsed := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "events/s")
	h.report(b)
}

// BenchmarkLatencyAt1000 sends at a steady 1,000 events/s and reports the
// hop latency distribution; b.N events take b.N ms.
func BenchmarkLatencyAt1000(b *testing.B) {
	const rate = 1000
	h := newHopRecorder(b.N)
	tb := benchBroker(b, h)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256}}
	// The first second warms up: connections are opened, the queue's
	// leader and the Go runtime settle. Only later events are measured.
	const warm = rate
	start := time.Now()
	var wg sync.WaitGroup
	for i := range warm + b.N {
		if i == warm {
			b.ResetTimer()
		}
		// Open loop: each event leaves at its scheduled time whether or not
		// earlier ones were answered, as independent clients would send.
		if d := time.Until(start.Add(time.Duration(i) * time.Second / rate)); d > 0 {
			time.Sleep(d)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			id := fmt.Sprintf("l%d", i)
			t0 := time.Now()
			if i >= warm {
				h.markSent(id, t0)
			}
			if err := postEvent(client, tb.ingress, id, benchBody); err != nil {
				b.Error(err)
			}
			if i >= warm {
				h.mu.Lock()
				h.ingress = append(h.ingress, time.Since(t0))
				h.mu.Unlock()
			}
		}()
	}
	wg.Wait()
	select {
	case <-h.all:
	case <-time.After(time.Minute):
		b.Fatalf("only %d of %d events delivered", h.received.Load(), b.N)
	}
	b.StopTimer()
	b.ReportMetric(float64(warm+b.N)/time.Since(start).Seconds(), "events/s")
	h.report(b)
}
