package loadtest

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wdm-knative/webshop/internal/shopclient"
)

// errStopped ends a client's scenario when the measured phase is over: no
// new request starts after that, the ones in flight finish.
var errStopped = errors.New("run stopped")

// caller sends the requests of the measured phase and records each answer.
type caller struct {
	c       *shopclient.Client
	rec     *Recorder // nil during setup and audit: nothing is recorded
	stopped *atomic.Bool
}

// validator is an answer body that can say whether it holds what the API
// promises (an ID that is not empty...).
type validator interface{ valid() bool }

// do sends method path, decodes a 2xx body into out and records the answer.
// mustFail marks a request that the contract says must be refused (4xx).
// The error is nil only for a success (or, with mustFail, a 4xx).
func (k *caller) do(ctx context.Context, method, path string, mustFail bool, out any) (int, Outcome, error) {
	if k.stopped != nil && k.stopped.Load() {
		return 0, OK, errStopped
	}
	began := time.Now()
	code, err := k.c.Do(ctx, method, path, out)
	done := time.Now()
	o := classify(code, err, mustFail)
	if o == OK {
		if v, ok := out.(validator); ok && !v.valid() {
			o, err = InvalidAnswer, errors.New("answer lacks a field the API promises")
		}
	}
	if k.rec != nil {
		detail := ""
		switch {
		case err != nil:
			detail = err.Error()
		case o == Unexpected2xx:
			detail = method + " " + path + " succeeded but must fail"
		}
		k.rec.Record(Endpoint(method, path), done, done.Sub(began), o, detail)
	}
	switch o {
	case OK, Expected4xx:
		return code, o, nil
	case Unexpected2xx:
		return code, o, errors.New("must fail but succeeded")
	}
	return code, o, err
}

// classify turns an answer of shopclient.Client.Do into an outcome.
func classify(code int, err error, mustFail bool) Outcome {
	var se *shopclient.StatusError
	switch {
	case err == nil && mustFail:
		return Unexpected2xx
	case err == nil:
		return OK
	case errors.As(err, &se) && shopclient.Refused(se.Status):
		if mustFail {
			return Expected4xx
		}
		return Unexpected4xx
	case errors.As(err, &se): // 3xx: the API has no redirects
		return Unexpected4xx
	case errors.Is(err, shopclient.ErrUnavailable) && code >= 500:
		return Server5xx
	case errors.Is(err, shopclient.ErrUnavailable):
		return Network
	default: // a 2xx body that does not decode
		return InvalidAnswer
	}
}

// definitive reports whether an outcome says how a checkout ended: a 5xx or
// no answer leaves its saga possibly running.
func definitive(o Outcome) bool { return o != Server5xx && o != Network }

// orderBook is what a run knows about the orders it checked out.
type orderBook struct {
	mu sync.Mutex
	// answers: order → 200 if any checkout of it got 200, else the last
	// definitive 4xx (shopclient.RunAudit's answers).
	answers map[string]int
	// unsettled: orders with a checkout that got no definitive answer; its
	// saga may still run when the run ends.
	unsettled map[string]bool
}

func newOrderBook() *orderBook {
	return &orderBook{answers: map[string]int{}, unsettled: map[string]bool{}}
}

// checkedOut records the answer to a checkout of order.
func (b *orderBook) checkedOut(order string, code int, o Outcome) {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch {
	case !definitive(o):
		b.unsettled[order] = true
	case code >= 200 && code < 300:
		b.answers[order] = 200
	case shopclient.Refused(code) && b.answers[order] != 200:
		// A refused checkout may later be retried with success: 200 sticks.
		b.answers[order] = code
	}
}

// settle checks out again every order whose checkout got no definitive
// answer, retrying until one comes, so that no saga is half-way when the
// audit reads the state. It returns how many orders it settled.
func (b *orderBook) settle(ctx context.Context, c *shopclient.Client, conc int) (int, error) {
	b.mu.Lock()
	orders := make([]string, 0, len(b.unsettled))
	for id := range b.unsettled {
		orders = append(orders, id)
	}
	b.mu.Unlock()
	_, err := shopclient.ReadAll(ctx, orders, conc, func(ctx context.Context, id string) (struct{}, error) {
		code, err := c.Retry(ctx, "POST", "/orders/checkout/"+id, nil)
		var se *shopclient.StatusError
		switch {
		case err == nil:
			b.checkedOut(id, code, OK)
		case errors.As(err, &se):
			b.checkedOut(id, code, Unexpected4xx)
		default:
			return struct{}{}, err
		}
		return struct{}{}, nil
	})
	return len(orders), err
}
