package api

import (
	"context"
	"errors"
	"net"
	"net/http"
	"syscall"
	"time"

	"github.com/wdm-knative/webshop/internal/backoff"
)

// NewHTTPClient returns the client a function uses to call another function
// (order -> stock/find, order -> payment/find_user). It is shared per process
// and tuned for many small requests to few hosts: the default transport keeps
// only 2 idle connections per host, so under load most calls would pay a new
// TCP handshake and leave sockets in TIME_WAIT.
func NewHTTPClient() *http.Client {
	t := newTransport()
	t.ResponseHeaderTimeout = 10 * time.Second
	// A bound for a call whose caller's context has none; the caller's
	// context (the incoming request's) still cuts it shorter.
	return &http.Client{Transport: t, Timeout: 15 * time.Second}
}

// NewSendClient returns the client that sends events to the broker's
// ingress: NewHTTPClient's, without its time limits, since the sender's
// context bounds each send (saga.Options.SendTimeout). A channel-based
// broker's ingress answers only once every Trigger has delivered the event,
// retries and dead letter included (Knative Eventing's InMemoryChannel fans
// out in the request), and a send cut short cancels those deliveries.
func NewSendClient() *http.Client {
	return &http.Client{Transport: newTransport()}
}

func newTransport() *http.Transport {
	dialer := &net.Dialer{Timeout: 3 * time.Second, KeepAlive: 30 * time.Second}
	return &http.Transport{
		// No Proxy: calls stay inside the cluster (or on loopback locally).
		DialContext:           RedialRefused(dialer.DialContext, RefusedWindow, 50*time.Millisecond, RefusedWindow),
		MaxIdleConns:          512,
		MaxIdleConnsPerHost:   256,
		IdleConnTimeout:       90 * time.Second,
		ExpectContinueTimeout: time.Second,
	}
}

// RefusedWindow is how long a refused connection is tried again.
const RefusedWindow = 3 * time.Second

// DialFunc is the shape of net.Dialer.DialContext.
type DialFunc func(ctx context.Context, network, addr string) (net.Conn, error)

// RedialRefused dials again while the connection is refused, for up to
// window, after a pause of first that doubles up to longest. A refused connect is often a
// moment's state in a cluster: a NetworkPolicy engine admits a new pod's
// address only once it has seen the pod (kube-router adds it to its ipsets
// a moment after the pod starts, and until then a policy naming the pod's
// namespace rejects it), and an ingress or broker pod being replaced
// refuses until its successor listens. Nothing was sent, so this is safe
// for any request. Other errors, and the caller's context ending, return
// at once.
func RedialRefused(dial DialFunc, window, first, longest time.Duration) DialFunc {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		giveUp := time.Now().Add(window)
		pause := first
		for {
			conn, err := dial(ctx, network, addr)
			if err == nil || !errors.Is(err, syscall.ECONNREFUSED) || time.Now().Add(pause).After(giveUp) {
				return conn, err
			}
			if !backoff.Sleep(ctx, pause) {
				return nil, err
			}
			pause = min(2*pause, longest)
		}
	}
}
