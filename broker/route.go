package broker

import (
	"errors"
	"fmt"
	"net/url"
	"strings"

	eventingv1 "knative.dev/eventing/pkg/apis/eventing/v1"
	duckv1 "knative.dev/pkg/apis/duck/v1"
)

// ErrUnresolvedSubscriber is a Trigger whose subscriber has no address:
// its ref names a Service missing from the subscriber URLs and it has no
// absolute uri.
var ErrUnresolvedSubscriber = errors.New("cannot resolve subscriber")

// route is what a dispatcher needs to serve one Trigger.
type route struct {
	trigger string
	queue   string
	filter  map[string]string
	target  string // subscriber URL
	policy  DeliveryPolicy
	// deadLetterSink is the URL of spec.delivery.deadLetterSink, "" when
	// the Trigger names none (its dead letters are parked in the queue).
	deadLetterSink string
}

// routesOf turns the Triggers of one broker into routes. Triggers of other
// brokers are left out, as a cluster's broker would ignore them.
func routesOf(broker string, triggers []eventingv1.Trigger, subscribers map[string]string) ([]route, error) {
	var out []route
	seen := map[string]bool{}
	for i := range triggers {
		t := &triggers[i]
		if t.Spec.Broker != broker {
			continue
		}
		if err := CheckTrigger(t); err != nil {
			return nil, err
		}
		if seen[t.Name] {
			return nil, fmt.Errorf("%w: trigger %q appears twice", ErrInvalidTrigger, t.Name)
		}
		seen[t.Name] = true
		target, err := resolve(t.Spec.Subscriber, subscribers)
		if err != nil {
			return nil, fmt.Errorf("trigger %q: %w", t.Name, err)
		}
		policy, err := policyOf(t)
		if err != nil {
			return nil, fmt.Errorf("trigger %q: %w", t.Name, err)
		}
		var sink string
		if d := t.Spec.Delivery; d != nil && d.DeadLetterSink != nil {
			if sink, err = resolve(*d.DeadLetterSink, subscribers); err != nil {
				return nil, fmt.Errorf("trigger %q: deadLetterSink: %w", t.Name, err)
			}
		}
		out = append(out, route{
			trigger:        t.Name,
			queue:          triggerQueueName(broker, t.Name),
			filter:         filterOf(t),
			target:         target,
			policy:         policy,
			deadLetterSink: sink,
		})
	}
	return out, nil
}

// resolve finds a Destination's URL the way Knative's addressable resolver
// does: the ref's address (here: looked up by Service name), with a relative
// uri resolved against it; or the uri alone when it is absolute.
func resolve(d duckv1.Destination, subscribers map[string]string) (string, error) {
	if d.Ref == nil {
		if d.URI == nil || !d.URI.URL().IsAbs() {
			return "", fmt.Errorf("%w: neither ref nor absolute uri", ErrUnresolvedSubscriber)
		}
		return d.URI.String(), nil
	}
	base, ok := subscribers[d.Ref.Name]
	if !ok {
		return "", fmt.Errorf("%w: no URL for %s %q (set SUBSCRIBER_URLS)", ErrUnresolvedSubscriber, d.Ref.Kind, d.Ref.Name)
	}
	u, err := url.Parse(strings.TrimSuffix(base, "/") + "/")
	if err != nil || !u.IsAbs() {
		return "", fmt.Errorf("%w: bad URL %q for %q", ErrUnresolvedSubscriber, base, d.Ref.Name)
	}
	if d.URI == nil {
		return strings.TrimSuffix(u.String(), "/"), nil
	}
	return u.ResolveReference(d.URI.URL()).String(), nil
}

// ParseSubscriberURLs reads "service=baseURL,service=baseURL".
func ParseSubscriberURLs(s string) (map[string]string, error) {
	out := map[string]string{}
	for _, pair := range strings.Split(s, ",") {
		pair = strings.TrimSpace(pair)
		if pair == "" {
			continue
		}
		name, base, ok := strings.Cut(pair, "=")
		name, base = strings.TrimSpace(name), strings.TrimSpace(base)
		if !ok || name == "" || base == "" {
			return nil, fmt.Errorf("%w: subscriber entry %q is not service=URL", ErrUnresolvedSubscriber, pair)
		}
		if u, err := url.Parse(base); err != nil || !u.IsAbs() {
			return nil, fmt.Errorf("%w: subscriber %q URL %q is not absolute", ErrUnresolvedSubscriber, name, base)
		}
		out[name] = base
	}
	return out, nil
}
