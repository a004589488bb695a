package broker

import (
	"errors"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	eventingduckv1 "knative.dev/eventing/pkg/apis/duck/v1"
	eventingv1 "knative.dev/eventing/pkg/apis/eventing/v1"
)

func TestBackoff(t *testing.T) {
	tests := []struct {
		name   string
		policy DeliveryPolicy
		retry  int
		want   time.Duration
	}{
		{"exponential first retry", DeliveryPolicy{Delay: 100 * time.Millisecond}, 1, 200 * time.Millisecond},
		{"exponential third retry", DeliveryPolicy{Delay: 100 * time.Millisecond}, 3, 800 * time.Millisecond},
		{"linear third retry", DeliveryPolicy{Linear: true, Delay: 100 * time.Millisecond}, 3, 300 * time.Millisecond},
		{"capped", DeliveryPolicy{Delay: time.Second}, 40, maxBackoff},
		{"no retry yet", DeliveryPolicy{Delay: time.Second}, 0, 0},
		{"zero delay", DeliveryPolicy{}, 5, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.policy.Backoff(tc.retry); got != tc.want {
				t.Errorf("Backoff(%d) = %v, want %v", tc.retry, got, tc.want)
			}
		})
	}
}

func TestRetryable(t *testing.T) {
	tests := []struct {
		status int
		want   bool
	}{
		{0, true}, {500, true}, {503, true}, {404, true}, {408, true}, {409, true}, {429, true},
		{200, false}, {202, false}, {400, false}, {401, false}, {403, false}, {410, false}, {422, false},
	}
	for _, tc := range tests {
		if got := retryable(tc.status); got != tc.want {
			t.Errorf("retryable(%d) = %v, want %v", tc.status, got, tc.want)
		}
	}
}

func TestPolicyOf(t *testing.T) {
	ptr := func(s string) *string { return &s }
	retry := func(n int32) *int32 { return &n }
	linear := eventingduckv1.BackoffPolicyLinear
	trigger := func(ann string, d *eventingduckv1.DeliverySpec) *eventingv1.Trigger {
		t := &eventingv1.Trigger{ObjectMeta: metav1.ObjectMeta{Name: "t"}}
		if ann != "" {
			t.Annotations = map[string]string{ParallelismAnnotation: ann}
		}
		t.Spec.Delivery = d
		return t
	}
	tests := []struct {
		name    string
		trigger *eventingv1.Trigger
		want    DeliveryPolicy
		wantErr error
	}{
		{"defaults", trigger("", nil), DeliveryPolicy{Timeout: defaultTimeout, Parallelism: 1}, nil},
		{"full", trigger("16", &eventingduckv1.DeliverySpec{
			Retry: retry(3), BackoffPolicy: &linear, BackoffDelay: ptr("PT0.5S"), Timeout: ptr("PT2S"),
		}), DeliveryPolicy{Retry: 3, Linear: true, Delay: 500 * time.Millisecond, Timeout: 2 * time.Second, Parallelism: 16}, nil},
		{"bad parallelism", trigger("many", nil), DeliveryPolicy{}, ErrInvalidDelivery},
		{"zero parallelism", trigger("0", nil), DeliveryPolicy{}, ErrInvalidDelivery},
		{"bad delay", trigger("", &eventingduckv1.DeliverySpec{BackoffDelay: ptr("soon")}), DeliveryPolicy{}, ErrInvalidDelivery},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := policyOf(tc.trigger)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			if err == nil && got != tc.want {
				t.Errorf("policy = %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestResolveSubscriber(t *testing.T) {
	subs, err := ParseSubscriberURLs(" stock-reserve=http://127.0.0.1:9101 , saga-step=http://127.0.0.1:9103/base/")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		yaml    string
		want    string
		wantErr error
	}{
		{"ref and path", "ref: {apiVersion: serving.knative.dev/v1, kind: Service, name: stock-reserve}\n    uri: /events/stock-reserve",
			"http://127.0.0.1:9101/events/stock-reserve", nil},
		{"ref only", "ref: {apiVersion: serving.knative.dev/v1, kind: Service, name: stock-reserve}",
			"http://127.0.0.1:9101", nil},
		{"relative uri against base path", "ref: {apiVersion: serving.knative.dev/v1, kind: Service, name: saga-step}\n    uri: events",
			"http://127.0.0.1:9103/base/events", nil},
		{"absolute uri", "uri: http://example.invalid/x", "http://example.invalid/x", nil},
		{"unknown service", "ref: {apiVersion: serving.knative.dev/v1, kind: Service, name: nope}", "", ErrUnresolvedSubscriber},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ts, err := ParseTriggers([]byte("apiVersion: eventing.knative.dev/v1\nkind: Trigger\nmetadata: {name: t}\n" +
				"spec:\n  broker: b\n  subscriber:\n    " + tc.yaml + "\n"))
			if err != nil {
				t.Fatal(err)
			}
			got, err := resolve(ts[0].Spec.Subscriber, subs)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			if got != tc.want {
				t.Errorf("url = %q, want %q", got, tc.want)
			}
		})
	}
	if _, err := ParseSubscriberURLs("stock-reserve"); !errors.Is(err, ErrUnresolvedSubscriber) {
		t.Errorf("entry without URL: err = %v", err)
	}
}
