package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/wdm-knative/webshop/broker"
	"github.com/wdm-knative/webshop/local/stackfile"
	"github.com/wdm-knative/webshop/local/testenv"
	"github.com/wdm-knative/webshop/tools/loadtest"
	"github.com/wdm-knative/webshop/tools/soak"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// The queue names the soak derives from the Trigger manifests are the
// queues a real broker declares on a real RabbitMQ: every passive declare
// of the first sample succeeds.
func TestTargetsAreTheBrokersQueues(t *testing.T) {
	triggers, err := broker.LoadTriggers("../../../knative/base")
	if err != nil {
		t.Fatal(err)
	}
	// A broker name of its own: the test shares RabbitMQ with others.
	name := fmt.Sprintf("soak%d", os.Getpid())
	subscribers := map[string]string{}
	for i := range triggers {
		triggers[i].Spec.Broker = name
		if ref := triggers[i].Spec.Subscriber.Ref; ref != nil {
			subscribers[ref.Name] = "http://127.0.0.1:1"
		}
	}
	amqpURL := testenv.AMQPURL(t)
	b, err := broker.New(broker.Config{Name: name, AMQPURL: amqpURL, Triggers: triggers, Subscribers: subscribers,
		Logger: slog.New(slog.NewJSONHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	runCtx, stopBroker := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); b.Run(runCtx) }()
	defer func() { stopBroker(); <-done }()

	targets, err := targetsOf(stackfile.Endpoints{AMQPURL: amqpURL, PostgresDSN: testenv.NewDatabase(t)}, triggers, name)
	if err != nil {
		t.Fatal(err)
	}
	if len(targets.Queues) != len(triggers) {
		t.Errorf("%d queues for %d triggers", len(targets.Queues), len(triggers))
	}
	s, err := soak.NewSampler(ctx, targets)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	// The broker declares its topology once connected.
	var sm soak.Sample
	for ctx.Err() == nil {
		if sm = s.Sample(ctx); len(sm.Errors) == 0 {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if len(sm.Errors) > 0 {
		t.Fatalf("queues the soak names but the broker did not declare: %s", strings.Join(sm.Errors, "; "))
	}
	if len(sm.Queues) != len(triggers)+1 {
		t.Errorf("read %d queues, want %d triggers' and the dead-letter queue", len(sm.Queues), len(triggers))
	}
	if _, err := targetsOf(stackfile.Endpoints{}, triggers, "other"); err == nil {
		t.Error("a broker without Triggers must be an error")
	}
}

func TestJudgeRun(t *testing.T) {
	flat := soak.Verdict{Series: "rss stock", OK: true}
	tests := []struct {
		name       string
		verdicts   []soak.Verdict
		load       loadtest.Summary
		rate       float64
		wantPassed bool
		wantReason string
	}{
		{"all flat, rate kept", []soak.Verdict{flat}, loadtest.Summary{Passed: true, Totals: loadtest.Totals{CheckoutsPerS: 69}}, 70, true, ""},
		{"a series grew", []soak.Verdict{flat, {Series: "goroutines order", Reason: "grew"}},
			loadtest.Summary{Passed: true, Totals: loadtest.Totals{CheckoutsPerS: 70}}, 70, false, "goroutines order: grew"},
		{"load run failed", []soak.Verdict{flat}, loadtest.Summary{Passed: false, Reasons: []string{"audit found 2 problems"}, Totals: loadtest.Totals{CheckoutsPerS: 70}},
			70, false, "audit found 2 problems"},
		{"rate not kept", []soak.Verdict{flat}, loadtest.Summary{Passed: true, Totals: loadtest.Totals{CheckoutsPerS: 50}}, 70, false, "below 90 %"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sum := &Summary{Verdicts: tt.verdicts, Load: &tt.load, Rate: tt.rate}
			judge(sum)
			if sum.Passed != tt.wantPassed {
				t.Fatalf("Passed = %v (%q), want %v", sum.Passed, sum.Reasons, tt.wantPassed)
			}
			if !tt.wantPassed && !strings.Contains(strings.Join(sum.Reasons, "\n"), tt.wantReason) {
				t.Errorf("reasons %q lack %q", sum.Reasons, tt.wantReason)
			}
		})
	}
}
