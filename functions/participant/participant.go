// Package participant is the plumbing shared by the event handlers of the
// saga's participants (stock reserve/release, payment debit/refund): each
// decodes and validates its event once, applies the step to its ledger in one
// statement, and answers with the reply its ledger row implies.
package participant

import (
	"context"
	"log/slog"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/wdm-knative/webshop/internal/eventhttp"
	"github.com/wdm-knative/webshop/schemas"
)

// Step handles one delivery of a saga step: in's data decoded as Req (a
// malformed event is permanent, so the broker does not retry it), the ledger
// row apply leaves (an error, database trouble, is retried by the broker),
// logged at debug level under msg, and the reply that reply builds from it.
func Step[Req schemas.Data, Row slog.LogValuer](ctx context.Context, log *slog.Logger, msg string, in event.Event,
	apply func(context.Context, Req) (Row, error), reply func(event.Event, Row) (*event.Event, error)) (*event.Event, error) {
	req, err := schemas.DecodeAs[Req](in)
	if err != nil {
		return nil, eventhttp.Permanent(err)
	}
	row, err := apply(ctx, req)
	if err != nil {
		return nil, err
	}
	if log.Enabled(ctx, slog.LevelDebug) {
		log.Debug(msg, slog.Any("", row)) // an empty key inlines the row's attributes
	}
	return reply(in, row)
}
