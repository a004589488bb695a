package broker

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// maxErrorData bounds what a failed response's body contributes to the
// dead letter's knativeerrordata, like Knative does.
const maxErrorData = 1024

// maxReplyBytes bounds a reply event read from a subscriber response.
const maxReplyBytes = 8 << 20

// attempt is the outcome of one HTTP delivery.
type attempt struct {
	status int              // 0 when no response arrived
	reply  *amqp.Publishing // reply event of a 2xx response, if any
	data   []byte           // start of an error response's body, or the error text
	err    error            // network error, timeout or unusable reply
}

func (a attempt) is2xx() bool { return a.status >= 200 && a.status <= 299 }

// delivered: the subscriber took the event (and any reply is usable).
func (a attempt) delivered() bool { return a.err == nil && a.is2xx() }

// refused: the subscriber answered with a status not worth retrying.
func (a attempt) refused() bool { return a.err == nil && !a.is2xx() && !retryable(a.status) }

// badReply: the subscriber took the event but answered with an invalid reply.
func (a attempt) badReply() bool { return a.err != nil && a.is2xx() }

// NewHTTPClient returns the client dispatchers share: many idle keep-alive
// connections per subscriber so that parallel workers reuse connections
// instead of opening one per event (and running out of ephemeral ports).
func NewHTTPClient() *http.Client {
	return &http.Client{Transport: &http.Transport{
		Proxy: nil, // subscribers are addressed directly, never via a proxy
		DialContext: (&net.Dialer{
			Timeout:   5 * time.Second,
			KeepAlive: 30 * time.Second,
		}).DialContext,
		MaxIdleConns:          4096,
		MaxIdleConnsPerHost:   1024,
		IdleConnTimeout:       90 * time.Second,
		ExpectContinueTimeout: 0,
		DisableCompression:    true, // events are small; gzip costs CPU on both sides
		ForceAttemptHTTP2:     false,
	}}
}

// post delivers the stored event in binary mode to target and reads a reply
// event, if any.
func post(ctx context.Context, client *http.Client, target string, dl *amqp.Delivery, timeout time.Duration) attempt {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := deliveryRequest(ctx, target, dl)
	if err != nil {
		return attempt{err: err, data: []byte(err.Error())}
	}
	resp, err := client.Do(req)
	if err != nil {
		return attempt{err: err, data: []byte(err.Error())}
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		data, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorData))
		drain(resp.Body)
		return attempt{status: resp.StatusCode, data: data}
	}
	a := attempt{status: resp.StatusCode}
	a.reply, err = replyPublishing(resp)
	drain(resp.Body)
	if err != nil {
		a.err = fmt.Errorf("invalid reply event: %w", err)
		a.data = []byte(a.err.Error())
		a.reply = nil
	}
	return a
}

// drain reads what is left of a body (within reason) so the connection can
// go back to the keep-alive pool.
func drain(body io.Reader) {
	_, _ = io.Copy(io.Discard, io.LimitReader(body, 64<<10))
}
