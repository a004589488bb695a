// Package participant is the plumbing shared by the event handlers of the
// saga's participants (stock reserve/release, payment debit/refund): each
// decodes and validates its event once, applies the step to its ledger in one
// statement, and answers with the reply its ledger row implies.
package participant

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/jackc/pgx/v5"

	"github.com/wdm-knative/webshop/internal/eventhttp"
	"github.com/wdm-knative/webshop/internal/pgtx"
	"github.com/wdm-knative/webshop/schemas"
)

// Step is the event handler of a saga step. Each delivery's data is decoded
// as Req (a malformed event is permanent, so the broker does not retry it),
// apply leaves the saga's ledger row (an error, database trouble, is retried
// by the broker), logged at debug level under msg, and reply builds the
// answer from the row: a business rejection is a reply, not an error.
func Step[Req schemas.Data, Row slog.LogValuer](log *slog.Logger, msg string,
	apply func(context.Context, Req) (Row, error), reply func(event.Event, Row) (*event.Event, error)) eventhttp.Handler {
	return func(ctx context.Context, in event.Event) (*event.Event, error) {
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
}

// Ledger is a participant's saga ledger: the database its SQL functions run
// in, and a row as they return it.
type Ledger[Row any] struct {
	DB      pgtx.Executor
	Columns string // what Scan reads, in its order
	Scan    func(pgx.Row) (Row, error)
}

// Apply runs a step's SQL function, call (e.g. "stock_release($1, $2)")
// with $1 the saga's id, and returns the saga's ledger row afterwards. The
// function is one statement that claims the ledger row first, which settles
// duplicates, late steps and races with the other step; a transient
// conflict runs it again.
func (l Ledger[Row]) Apply(ctx context.Context, call, sagaID string, args ...any) (Row, error) {
	sql := `SELECT ` + l.Columns + ` FROM ` + call
	args = append([]any{sagaID}, args...)
	row, err := pgtx.Retry(ctx, func(ctx context.Context) (Row, error) { return l.Scan(l.DB.QueryRow(ctx, sql, args...)) })
	if err != nil {
		var none Row
		return none, fmt.Errorf("%s for saga %q: %w", call, sagaID, err)
	}
	return row, nil
}
