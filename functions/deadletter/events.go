// Package deadletter is the dead-letter operation: every Trigger's
// deadLetterSink, in the cluster and (through the local broker) on one
// machine. It stores each event the broker gave up on, with the Trigger it
// failed on and its knativeerror* extensions, so an operator can list and
// replay it (cmd/shopctl) instead of finding a log line; and on each
// PingSource tick it prunes what is older than the retention.
package deadletter

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/wdm-knative/webshop/internal/eventhttp"
	"github.com/wdm-knative/webshop/internal/metrics"
	"github.com/wdm-knative/webshop/internal/operation"
	"github.com/wdm-knative/webshop/schemas"
)

// TriggerParam is the query parameter of the deadLetterSink uri that names
// the Trigger ("/events/dead-letter?trigger=stock-reserve-checkout-requested"):
// a dead-lettered event itself does not say which Trigger failed.
const TriggerParam = "trigger"

// pruneBatch bounds one tick's deletions, so a tick stays short.
const pruneBatch = 10000

// Events is the dead-letter operation's CloudEvent handler.
type Events struct {
	store     *Store
	retention time.Duration
	stored    *metrics.DeadLetters // nil: not counted
	log       *slog.Logger
}

// NewEvents returns the handler; retention is how long a dead letter is kept.
func NewEvents(store *Store, retention time.Duration, stored *metrics.DeadLetters, log *slog.Logger) *Events {
	return &Events{store: store, retention: retention, stored: stored, log: log}
}

// Operations maps the operation name to its handler.
func (h *Events) Operations() map[string]eventhttp.Handler {
	return map[string]eventhttp.Handler{operation.DeadLetter: h.Handle}
}

// Handle prunes on a ping and stores anything else. A database failure is a
// 5xx, so the broker keeps the dead letter and tries again.
func (h *Events) Handle(ctx context.Context, e event.Event) (*event.Event, error) {
	if e.Type() == schemas.TypePing {
		n, err := h.store.Prune(ctx, h.retention, pruneBatch)
		if err != nil {
			return nil, err
		}
		if n > 0 {
			h.log.Info("dead letters pruned", "count", n, "retention", h.retention.String())
		}
		return nil, nil
	}
	l, err := letterOf(e, TriggerFrom(ctx))
	if err != nil {
		return nil, eventhttp.Permanent(err)
	}
	added, err := h.store.Save(ctx, l)
	if err != nil {
		return nil, err
	}
	if added {
		h.stored.Stored()
		h.log.Warn("dead letter stored", "event_id", l.EventID, "type", l.Type, "trigger", l.Trigger,
			"error_code", l.ErrorCode, "error_dest", l.ErrorDest)
	}
	return nil, nil
}

// letterOf reads what is stored of a dead-lettered event.
func letterOf(e event.Event, trigger string) (Letter, error) {
	raw, err := json.Marshal(e)
	if err != nil {
		return Letter{}, fmt.Errorf("encode event: %w", err)
	}
	l := Letter{EventID: e.ID(), Source: e.Source(), Type: e.Type(), Subject: e.Subject(), Trigger: trigger, Event: raw}
	ext := e.Extensions()
	l.ErrorDest = str(ext[eventhttp.ExtErrorDest])
	if code := str(ext[eventhttp.ExtErrorCode]); code != "" {
		// Not a reason to refuse the letter: keep it, code unknown (-1).
		if l.ErrorCode, err = strconv.Atoi(code); err != nil {
			l.ErrorCode = -1
		}
	}
	if data := str(ext[eventhttp.ExtErrorData]); data != "" {
		// Knative base64-encodes the response body; keep it readable.
		if b, err := base64.StdEncoding.DecodeString(data); err == nil {
			data = string(b)
		}
		l.ErrorData = data
	}
	return l, nil
}

func str(v any) string {
	if v == nil {
		return ""
	}
	return fmt.Sprint(v)
}

type triggerKey struct{}

// TriggerFrom is the Trigger named by the request's TriggerParam ("" if none).
func TriggerFrom(ctx context.Context) string {
	s, _ := ctx.Value(triggerKey{}).(string)
	return s
}

// WithTrigger passes the deadLetterSink uri's TriggerParam to the handler
// through the request context (the CloudEvent signature sees no URL).
func WithTrigger(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// A Trigger name is a Kubernetes name: at most 253 bytes.
		if t := r.URL.Query().Get(TriggerParam); t != "" && len(t) <= 253 {
			r = r.WithContext(context.WithValue(r.Context(), triggerKey{}, t))
		}
		next.ServeHTTP(w, r)
	})
}
