package saga

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/wdm-knative/webshop/internal/api"
	"github.com/wdm-knative/webshop/internal/pgtx"
	"github.com/wdm-knative/webshop/schemas"
)

// Errors of the checkout, as the API's error kinds (api.Status maps them).
var (
	ErrOrderNotFound = api.NewError(api.ErrNotFound, "order not found")
	ErrEmptyOrder    = api.NewError(api.ErrRejected, "order has no items")
	// ErrCheckoutRunning answers a checkout whose saga outlived the wait:
	// the saga goes on, and a retry joins it (or reads its outcome).
	ErrCheckoutRunning = api.NewError(api.ErrUnavailable, "checkout still running; retry to join it")
	// ErrSagaNotFound is a reply for a saga this database never had.
	ErrSagaNotFound = errors.New("saga not found")
)

// NotifyChannel is the Postgres channel on which the transaction that
// decides a saga announces it (payload: a JSON Outcome).
const NotifyChannel = "saga_outcome"

// Item is a line of the order as the saga took it over.
type Item struct {
	ItemID    string `json:"item_id"`
	Quantity  int64  `json:"quantity"`
	UnitPrice int64  `json:"unit_price"`
}

// Saga is a checkout saga as stored in the sagas table.
type Saga struct {
	ID        string
	OrderID   string
	UserID    string
	Items     []Item
	TotalCost int64
	State     State
	Reason    schemas.Reason // why it compensates, once it does
	Attempts  int            // re-sends by the recovery sweep
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Outcome is how a saga ended (Status is Paid or Failed).
type Outcome struct {
	SagaID  string         `json:"saga_id"`
	OrderID string         `json:"order_id,omitempty"`
	Status  Status         `json:"status"`
	Reason  schemas.Reason `json:"reason,omitempty"`
}

// Store keeps sagas in the order database. Its writes are the order
// database's functions (db-migrations/order/functions/checkout_begin.sql and
// saga_step.sql), one statement each.
type Store struct {
	db pgtx.Executor
}

// NewStore returns a store on db (the order database).
func NewStore(db pgtx.Executor) *Store { return &Store{db: db} }

// sagaColumns are the columns scanSaga reads, qualified so that they can
// follow a join.
const sagaColumns = `sagas.id, sagas.order_id, sagas.user_id, sagas.items, sagas.total_cost, sagas.status,
	sagas.stock, sagas.payment, coalesce(sagas.reason, ''), sagas.attempts, sagas.created_at, sagas.updated_at`

// scanSaga reads sagaColumns.
func scanSaga(row pgx.Row) (Saga, error) {
	var s Saga
	err := row.Scan(&s.ID, &s.OrderID, &s.UserID, &s.Items, &s.TotalCost,
		&s.State.Status, &s.State.Stock, &s.State.Payment, &s.Reason, &s.Attempts, &s.CreatedAt, &s.UpdatedAt)
	return s, err
}

// Get reads a saga.
func (s *Store) Get(ctx context.Context, id string) (Saga, error) {
	sg, err := scanSaga(s.db.QueryRow(ctx, `SELECT `+sagaColumns+` FROM sagas WHERE id = $1`, id))
	if err != nil {
		return Saga{}, pgtx.RowError(err, ErrSagaNotFound, "saga %q", id)
	}
	return sg, nil
}

// Outcomes returns the outcomes of those of the given sagas that have one.
func (s *Store) Outcomes(ctx context.Context, ids []string) ([]Outcome, error) {
	return pgtx.Collect(ctx, s.db, pgx.RowToStructByPos[Outcome], "saga outcomes", `
		SELECT id, order_id, status, coalesce(reason, '') FROM sagas
		WHERE id = ANY($1) AND status IN ('paid', 'failed')`, ids)
}
