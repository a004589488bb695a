package broker

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/rickb777/date/period"
	eventingduckv1 "knative.dev/eventing/pkg/apis/duck/v1"
	eventingv1 "knative.dev/eventing/pkg/apis/eventing/v1"
)

// ErrInvalidDelivery is a spec.delivery or parallelism setting that cannot be used.
var ErrInvalidDelivery = errors.New("invalid delivery settings")

// ParallelismAnnotation is eventing-rabbitmq's per-Trigger worker count.
const ParallelismAnnotation = "rabbitmq.eventing.knative.dev/parallelism"

const (
	// defaultTimeout bounds one delivery attempt when the Trigger sets none, so
	// a hung subscriber cannot hold a worker (and its unacked message) forever.
	defaultTimeout = 30 * time.Second
	// maxBackoff keeps an exponential policy with many retries from waiting
	// for hours (and from overflowing time.Duration).
	maxBackoff = 5 * time.Minute
	// maxParallelism guards against a typo starting thousands of goroutines
	// and an equally large prefetch.
	maxParallelism = 1000
)

// DeliveryPolicy is a Trigger's spec.delivery in usable form.
type DeliveryPolicy struct {
	Retry       int           // retries after the first attempt
	Linear      bool          // backoffPolicy linear; exponential otherwise
	Delay       time.Duration // backoffDelay
	Timeout     time.Duration // per attempt
	Parallelism int           // concurrent deliveries
}

// policyOf reads spec.delivery and the parallelism annotation. Knative's
// defaults apply to what is missing: no retry, exponential backoff.
func policyOf(t *eventingv1.Trigger) (DeliveryPolicy, error) {
	p := DeliveryPolicy{Timeout: defaultTimeout, Parallelism: 1}
	if s, ok := t.Annotations[ParallelismAnnotation]; ok {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > maxParallelism {
			return p, fmt.Errorf("%w: %s %q must be 1..%d", ErrInvalidDelivery, ParallelismAnnotation, s, maxParallelism)
		}
		p.Parallelism = n
	}
	d := t.Spec.Delivery
	if d == nil {
		return p, nil
	}
	if d.Retry != nil {
		if *d.Retry < 0 {
			return p, fmt.Errorf("%w: retry %d < 0", ErrInvalidDelivery, *d.Retry)
		}
		p.Retry = int(*d.Retry)
	}
	if d.BackoffPolicy != nil {
		switch *d.BackoffPolicy {
		case eventingduckv1.BackoffPolicyLinear:
			p.Linear = true
		case eventingduckv1.BackoffPolicyExponential:
		default:
			return p, fmt.Errorf("%w: backoffPolicy %q", ErrInvalidDelivery, *d.BackoffPolicy)
		}
	}
	var err error
	if d.BackoffDelay != nil {
		if p.Delay, err = isoDuration(*d.BackoffDelay); err != nil {
			return p, err
		}
	}
	if d.Timeout != nil {
		if p.Timeout, err = isoDuration(*d.Timeout); err != nil {
			return p, err
		}
		if p.Timeout <= 0 {
			return p, fmt.Errorf("%w: timeout must be > 0", ErrInvalidDelivery)
		}
	}
	return p, nil
}

// isoDuration parses an ISO-8601 duration such as "PT0.2S" with the library
// Knative uses, so fractions of a second keep its precision (tenths).
func isoDuration(s string) (time.Duration, error) {
	p, err := period.Parse(s)
	if err != nil {
		return 0, fmt.Errorf("%w: duration %q: %v", ErrInvalidDelivery, s, err)
	}
	d := p.DurationApprox()
	if d < 0 {
		return 0, fmt.Errorf("%w: negative duration %q", ErrInvalidDelivery, s)
	}
	return d, nil
}

// Backoff is the wait before retry number n (1 for the first retry), as
// Knative defines it: delay*n for linear, delay*2^n for exponential.
func (p DeliveryPolicy) Backoff(n int) time.Duration {
	if n < 1 {
		return 0
	}
	var d time.Duration
	if p.Linear {
		d = p.Delay * time.Duration(n)
	} else {
		d = p.Delay << min(n, 30)
	}
	if d > maxBackoff || d < 0 {
		return maxBackoff
	}
	return d
}

// retryable says whether an attempt that ended with this HTTP status (0 when
// no response came back) is worth repeating. These are Knative's rules: a
// network error, any 5xx, and the 4xx codes that signal a transient state.
func retryable(status int) bool {
	switch {
	case status == 0, status >= 500:
		return true
	case status == http.StatusNotFound, status == http.StatusRequestTimeout,
		status == http.StatusConflict, status == http.StatusTooManyRequests:
		return true
	}
	return false
}
