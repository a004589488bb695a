package eventhttp

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/cloudevents/sdk-go/v2/event"
)

// ErrNotAccepted is a sink answering a sent event with a non-2xx status.
var ErrNotAccepted = errors.New("event not accepted")

// Sender POSTs events in binary mode to a sink: the broker's ingress, named
// by K_SINK in Knative (a SinkBinding or the func runtime injects it).
type Sender struct {
	URL    string
	Client *http.Client
}

// Send delivers e and returns nil once the sink answered 2xx (the RabbitMQ
// broker's ingress does so only after the publisher confirm).
func (s Sender) Send(ctx context.Context, e event.Event) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.URL, nil)
	if err != nil {
		return fmt.Errorf("send %s %s: %w", e.Type(), e.ID(), err)
	}
	body := writeBinary(req.Header, e)
	req.Body, req.ContentLength = io.NopCloser(bytes.NewReader(body)), int64(len(body))
	req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	c := s.Client
	if c == nil {
		c = http.DefaultClient
	}
	resp, err := c.Do(req)
	if err != nil {
		return fmt.Errorf("send %s %s: %w", e.Type(), e.ID(), err)
	}
	defer resp.Body.Close()
	// Drain so the connection goes back to the pool.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("send %s %s: %w: %s", e.Type(), e.ID(), ErrNotAccepted, resp.Status)
	}
	return nil
}
