package broker

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/wdm-knative/webshop/local/testenv"
)

// TestRabbitMQKilled: RabbitMQ dies by SIGKILL while events stream through
// the broker and comes back. Every event the ingress answered 202 for is
// delivered at least once, and the broker carries on by itself.
func TestRabbitMQKilled(t *testing.T) {
	rmq, server := testenv.OwnRabbitMQ(t, true)
	sub := newSubscriber(t, nil)
	name := uniqueName("kill")
	b := startBroker(t, rmq.URL(), name, []triggerYAML{
		{name: "all", service: "all", parallelism: 8, retry: 10, delay: "PT0.1S"},
	}, map[string]string{"all": sub.URL})

	var (
		mu       sync.Mutex
		accepted = map[string]bool{}
		phase    atomic.Int32 // 0 before the kill, 1 while down, 2 after the restart
		perPhase [3]atomic.Int32
		serial   atomic.Int64
		stop     = make(chan struct{})
		senders  sync.WaitGroup
	)
	for range 8 {
		senders.Add(1)
		go func() {
			defer senders.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				id := fmt.Sprintf("k%d", serial.Add(1))
				ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
				p := phase.Load()
				status, err := trySend(ctx, b.ingress, newEvent(id, "t"))
				cancel()
				if err == nil && status == http.StatusAccepted {
					mu.Lock()
					accepted[id] = true
					mu.Unlock()
					perPhase[p].Add(1)
				} else {
					time.Sleep(20 * time.Millisecond) // 503 while down: do not spin
				}
			}
		}()
	}

	time.Sleep(time.Second)
	phase.Store(1)
	server.Kill()
	time.Sleep(time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := server.Start(ctx); err != nil {
		t.Fatalf("restart rabbitmq: %v", err)
	}
	phase.Store(2)
	// Keep sending until the broker has accepted events again for a while.
	deadline := time.Now().Add(60 * time.Second)
	for perPhase[2].Load() < 200 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	close(stop)
	senders.Wait()

	if perPhase[0].Load() == 0 || perPhase[2].Load() == 0 {
		t.Fatalf("accepted before kill = %d, after restart = %d: both must be > 0",
			perPhase[0].Load(), perPhase[2].Load())
	}
	mu.Lock()
	want := len(accepted)
	mu.Unlock()
	t.Logf("accepted: %d before kill, %d while down, %d after restart",
		perPhase[0].Load(), perPhase[1].Load(), perPhase[2].Load())

	missing := func() []string {
		mu.Lock()
		defer mu.Unlock()
		var out []string
		for id := range accepted {
			if sub.count(id) == 0 {
				out = append(out, id)
			}
		}
		return out
	}
	end := time.Now().Add(90 * time.Second)
	for {
		m := missing()
		if len(m) == 0 {
			break
		}
		if time.Now().After(end) {
			t.Fatalf("%d of %d accepted events never delivered, e.g. %v", len(m), want, m[:min(len(m), 10)])
		}
		time.Sleep(200 * time.Millisecond)
	}
	dups := 0
	for _, r := range sub.snapshot() {
		if sub.count(r.ev.ID()) > 1 {
			dups++
		}
	}
	t.Logf("all %d accepted events delivered; %d deliveries were duplicates", want, dups)
}

// TestShutdownFinishesInFlight: stopping the broker stops consuming but
// lets a delivery under way finish and be acked, so it is not delivered
// again by the next broker process.
func TestShutdownFinishesInFlight(t *testing.T) {
	amqpURL := testenv.AMQPURL(t)
	release := make(chan struct{})
	sub := newSubscriber(t, func(*event.Event, int) (int, *event.Event) {
		<-release
		return http.StatusOK, nil
	})
	name := uniqueName("shutdown")
	triggers := []triggerYAML{{name: "all", service: "all"}}
	subs := map[string]string{"all": sub.URL}
	b := startBroker(t, amqpURL, name, triggers, subs)
	if got := send(t, b.ingress, newEvent("slow", "t")); got != http.StatusAccepted {
		t.Fatalf("status = %d", got)
	}
	sub.waitFor(t, waitTimeout, "delivery to start", func(rs []received) bool { return len(rs) == 1 })

	stopped := make(chan struct{})
	go func() { b.stop(); close(stopped) }()
	select {
	case <-stopped:
		t.Fatal("broker stopped before its in-flight delivery finished")
	case <-time.After(300 * time.Millisecond):
	}
	close(release)
	select {
	case <-stopped:
	case <-time.After(waitTimeout):
		t.Fatal("broker did not stop after the delivery finished")
	}

	// A new broker on the same queues must not see the event again.
	startBroker(t, amqpURL, name, triggers, subs)
	time.Sleep(time.Second)
	if n := sub.count("slow"); n != 1 {
		t.Errorf("deliveries = %d, want 1: the finished delivery was not acked", n)
	}
}
