// Package eventhttp serves Knative func-style CloudEvent handlers over HTTP
// the way a Knative Broker's dispatcher expects: the event arrives as an HTTP
// POST (binary or structured mode), and the answer's status tells the broker
// whether to retry: 2xx acks (a reply event, if any, rides in the response in
// binary mode and the broker publishes it), 5xx is retried with backoff, and
// 400 marks an event that can never succeed: the broker acks and drops it (no dead letter)
// instead of retrying it forever (Knative retries 5xx, 404, 408, 409 and 429
// only).
package eventhttp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/cloudevents/sdk-go/v2/event"
	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"
)

// Extensions Knative's dispatcher sets on a dead-lettered event: where the
// delivery failed, the last status, and the response body (base64). The
// local broker writes them and the dead-letter sink reads them.
const (
	ExtErrorDest = "knativeerrordest"
	ExtErrorCode = "knativeerrorcode"
	ExtErrorData = "knativeerrordata"
)

// Handler is the Knative func CloudEvent signature: it returns an optional
// reply event, or an error.
type Handler func(ctx context.Context, e event.Event) (*event.Event, error)

// ErrPermanent marks an input that cannot succeed however often it is
// retried (malformed data, an unknown type). Wrap it, or use Permanent.
var ErrPermanent = errors.New("permanent failure")

// Permanent wraps err with ErrPermanent; nil stays nil.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%w: %w", ErrPermanent, err)
}

// maxBody bounds what one event may carry: the saga's events are a few
// hundred bytes, and an unbounded read is a memory hazard.
const maxBody = 1 << 20

type adapter struct {
	name string
	h    Handler
	log  *slog.Logger
}

// New serves h. name identifies the operation in logs.
func New(name string, h Handler, log *slog.Logger) http.Handler {
	return &adapter{name: name, h: h, log: log.With("operation", name)}
}

func (a *adapter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "CloudEvents are POSTed", http.StatusMethodNotAllowed)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxBody)
	in, err := readEvent(r)
	if err == nil {
		err = in.Validate()
	}
	if err != nil {
		a.log.Warn("malformed cloudevent", "err", err)
		http.Error(w, "malformed CloudEvent: "+err.Error(), http.StatusBadRequest)
		return
	}

	reply, err := a.h(r.Context(), in)
	switch {
	case errors.Is(err, ErrPermanent):
		a.log.Warn("event refused for good", "type", in.Type(), "id", in.ID(), "err", err)
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	case err != nil:
		// Whatever else went wrong (database down, deadline) may pass:
		// let the broker retry.
		a.log.Error("event failed", "type", in.Type(), "id", in.ID(), "err", err)
		http.Error(w, "temporary failure", http.StatusInternalServerError)
		return
	case reply == nil:
		w.WriteHeader(http.StatusNoContent)
		return
	}
	if err := reply.Validate(); err != nil {
		// A bug in the handler; a retry may hit a fixed version.
		a.log.Error("invalid reply event", "type", in.Type(), "id", in.ID(), "err", err)
		http.Error(w, "invalid reply event", http.StatusInternalServerError)
		return
	}
	body := WriteBinary(w.Header(), *reply)
	w.WriteHeader(http.StatusOK)
	if _, err := w.Write(body); err != nil && a.log.Enabled(r.Context(), slog.LevelDebug) {
		a.log.Debug("write reply", "type", in.Type(), "id", in.ID(), "err", err)
	}
}

// readEvent reads the event of a request: binary mode on the fast path,
// anything else (structured mode) through the SDK.
func readEvent(r *http.Request) (event.Event, error) {
	e, err := ReadBinary(r.Header, r.Body)
	if !errors.Is(err, ErrNotBinary) {
		return e, err
	}
	sdk, err := cehttp.NewEventFromHTTPRequest(r)
	if err != nil {
		return event.Event{}, err
	}
	return *sdk, nil
}
