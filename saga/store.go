package saga

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/wdm-knative/webshop/schemas"
)

// Errors of the store.
var (
	ErrSagaNotFound  = errors.New("saga not found")
	ErrOrderNotFound = errors.New("order not found")
	ErrEmptyOrder    = errors.New("order has no items")
)

// NotifyChannel is the Postgres channel on which the transaction that
// decides a saga announces it (payload: a JSON Outcome).
const NotifyChannel = "saga_outcome"

// DB is what the store needs of Postgres: a *pgxpool.Pool satisfies it.
type DB interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	Begin(ctx context.Context) (pgx.Tx, error)
}

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
	SagaID string         `json:"saga_id"`
	Status Status         `json:"status"`
	Reason schemas.Reason `json:"reason,omitempty"`
}

// Store keeps sagas in the order database.
type Store struct {
	db DB
}

// NewStore returns a store on db (the order database).
func NewStore(db DB) *Store { return &Store{db: db} }

const sagaColumns = `id, order_id, user_id, items, total_cost, status, stock, payment,
	coalesce(reason, ''), attempts, created_at, updated_at`

// scanSaga reads sagaColumns, then any extra columns into extra.
func scanSaga(row pgx.Row, extra ...any) (Saga, error) {
	var s Saga
	dest := append([]any{&s.ID, &s.OrderID, &s.UserID, &s.Items, &s.TotalCost,
		&s.State.Status, &s.State.Stock, &s.State.Payment, &s.Reason, &s.Attempts, &s.CreatedAt, &s.UpdatedAt}, extra...)
	err := row.Scan(dest...)
	return s, err
}

// Get reads a saga.
func (s *Store) Get(ctx context.Context, id string) (Saga, error) {
	sg, err := scanSaga(s.db.QueryRow(ctx, `SELECT `+sagaColumns+` FROM sagas WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return Saga{}, fmt.Errorf("saga %q: %w", id, ErrSagaNotFound)
	}
	if err != nil {
		return Saga{}, fmt.Errorf("get saga %q: %w", id, err)
	}
	return sg, nil
}

// Outcomes returns the outcomes of those of the given sagas that have one.
func (s *Store) Outcomes(ctx context.Context, ids []string) ([]Outcome, error) {
	rows, err := s.db.Query(ctx, `
		SELECT id, status, coalesce(reason, '') FROM sagas
		WHERE id = ANY($1) AND status IN ('paid', 'failed')`, ids)
	if err != nil {
		return nil, fmt.Errorf("saga outcomes: %w", err)
	}
	var o Outcome
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (Outcome, error) {
		err := row.Scan(&o.SagaID, &o.Status, &o.Reason)
		return o, err
	})
	if err != nil {
		return nil, fmt.Errorf("saga outcomes: %w", err)
	}
	return out, nil
}

// save writes the saga's new state in tx. Entering compensation records
// reason; reaching a final state stamps decided_at and notifies waiters when
// tx commits.
func save(ctx context.Context, tx pgx.Tx, sg Saga, bumpAttempts bool) error {
	attempts := 0
	if bumpAttempts {
		attempts = 1
	}
	_, err := tx.Exec(ctx, `
		UPDATE sagas SET status = $2, stock = $3, payment = $4, reason = nullif($5, ''),
			attempts = attempts + $6, updated_at = now(),
			decided_at = CASE WHEN $2 IN ('paid', 'failed') THEN now() END
		WHERE id = $1`,
		sg.ID, sg.State.Status, sg.State.Stock, sg.State.Payment, string(sg.Reason), attempts)
	if err != nil {
		return fmt.Errorf("save saga %q: %w", sg.ID, err)
	}
	if !sg.State.Status.Final() {
		return nil
	}
	payload, err := json.Marshal(Outcome{SagaID: sg.ID, Status: sg.State.Status, Reason: sg.Reason})
	if err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, `SELECT pg_notify($1, $2)`, NotifyChannel, string(payload)); err != nil {
		return fmt.Errorf("notify outcome of saga %q: %w", sg.ID, err)
	}
	return nil
}

// setOrderStatus moves the saga's order out of checking_out. The condition
// makes it a no-op should the order be gone or already moved.
func setOrderStatus(ctx context.Context, tx pgx.Tx, orderID, status string) error {
	_, err := tx.Exec(ctx, `UPDATE orders SET status = $2 WHERE id = $1 AND status = 'checking_out'`, orderID, status)
	if err != nil {
		return fmt.Errorf("set order %q %s: %w", orderID, status, err)
	}
	return nil
}

// lockSaga reads a saga and locks its row for the rest of tx.
func lockSaga(ctx context.Context, tx pgx.Tx, id string) (Saga, error) {
	sg, err := scanSaga(tx.QueryRow(ctx, `SELECT `+sagaColumns+` FROM sagas WHERE id = $1 FOR UPDATE`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return Saga{}, fmt.Errorf("saga %q: %w", id, ErrSagaNotFound)
	}
	if err != nil {
		return Saga{}, fmt.Errorf("lock saga %q: %w", id, err)
	}
	return sg, nil
}
