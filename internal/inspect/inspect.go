// Package inspect reads the checkout saga and its ledgers for an operator:
// one saga with its steps and ledger rows, the sagas that are stuck, and how
// many there are (the stuck-saga gauge). It only reads, with its own SQL on
// the tables of db-migrations, so it never takes a lock a checkout waits on.
package inspect

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/wdm-knative/webshop/internal/pgtx"
)

// Errors of the reads.
var (
	// ErrUnknownOrder is an order id with no order.
	ErrUnknownOrder = errors.New("unknown order")
	// ErrNoSaga is an order with no saga: it was never checked out (or
	// the id is unknown; OrderStatus tells which).
	ErrNoSaga = errors.New("no checkout saga for this order")
)

// Saga is one row of the sagas table, plus what it waits for.
type Saga struct {
	ID        string          `json:"id"`
	OrderID   string          `json:"order_id"`
	UserID    string          `json:"user_id"`
	Items     json.RawMessage `json:"items"`
	TotalCost int64           `json:"total_cost"`
	Status    string          `json:"status"`
	Stock     string          `json:"stock"`
	Payment   string          `json:"payment"`
	Reason    string          `json:"reason,omitempty"`
	Attempts  int             `json:"attempts"`
	CreatedAt time.Time       `json:"created_at"`
	UpdatedAt time.Time       `json:"updated_at"`
	DecidedAt *time.Time      `json:"decided_at,omitempty"`
	// WaitsFor names the replies the saga still needs; empty once decided.
	WaitsFor []string `json:"waits_for"`
}

const sagaColumns = `id, order_id, user_id, items, total_cost, status, stock, payment, coalesce(reason, ''),
	attempts, created_at, updated_at, decided_at`

func scanSaga(row pgx.CollectableRow) (Saga, error) {
	var s Saga
	err := row.Scan(&s.ID, &s.OrderID, &s.UserID, &s.Items, &s.TotalCost, &s.Status, &s.Stock, &s.Payment,
		&s.Reason, &s.Attempts, &s.CreatedAt, &s.UpdatedAt, &s.DecidedAt)
	s.WaitsFor = waitsFor(s.Status, s.Stock, s.Payment)
	return s, err
}

// waitsFor derives from the step columns what a running saga needs: while
// pending, each participant's answer to checkout.requested; while
// compensating, each participant's confirmation that it gave back (or
// never took) its part. The sweep re-sends exactly the event behind these.
func waitsFor(status, stock, payment string) []string {
	out := []string{}
	switch status {
	case "pending":
		if stock == "waiting" {
			out = append(out, "stock: shop.stock.reserved|rejected (stock-reserve)")
		}
		if payment == "waiting" {
			out = append(out, "payment: shop.payment.debited|rejected (payment-debit)")
		}
	case "compensating":
		if stock != "returned" {
			out = append(out, "stock: shop.stock.released (stock-release)")
		}
		if payment != "returned" {
			out = append(out, "payment: shop.payment.refunded (payment-refund)")
		}
	}
	return out
}

// OrderStatus returns an order's status, or ErrUnknownOrder.
func OrderStatus(ctx context.Context, db pgtx.Executor, orderID string) (string, error) {
	var status string
	err := db.QueryRow(ctx, `SELECT status FROM orders WHERE id = $1`, orderID).Scan(&status)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", fmt.Errorf("order %q: %w", orderID, ErrUnknownOrder)
	}
	if err != nil {
		return "", fmt.Errorf("read order: %w", err)
	}
	return status, nil
}

// Sagas returns the sagas of an order, newest first (a failed checkout may
// be retried, which starts a new saga), or ErrNoSaga.
func Sagas(ctx context.Context, db pgtx.Executor, orderID string) ([]Saga, error) {
	out, err := pgtx.Collect(ctx, db, scanSaga, "read sagas",
		`SELECT `+sagaColumns+` FROM sagas WHERE order_id = $1 ORDER BY created_at DESC`, orderID)
	if err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("order %q: %w", orderID, ErrNoSaga)
	}
	return out, nil
}

// Stuck lists the running sagas created more than olderThan ago, oldest
// first. Age, not updated_at: the sweep touches updated_at on every
// re-send, so a saga the sweep keeps re-driving in vain never looks idle.
func Stuck(ctx context.Context, db pgtx.Executor, olderThan time.Duration, limit int) ([]Saga, error) {
	return pgtx.Collect(ctx, db, scanSaga, "read stuck sagas", `SELECT `+sagaColumns+` FROM sagas
		WHERE status IN ('pending', 'compensating') AND created_at < now() - $1 * interval '1 millisecond'
		ORDER BY created_at LIMIT $2`, olderThan.Milliseconds(), limit)
}

// CountStuck counts what Stuck would list (without a limit), for the
// stuck-saga gauge: it runs once per scrape, never on the checkout path.
func CountStuck(ctx context.Context, db pgtx.Executor, olderThan time.Duration) (int, error) {
	var n int
	err := db.QueryRow(ctx, `SELECT count(*) FROM sagas
		WHERE status IN ('pending', 'compensating') AND created_at < now() - $1 * interval '1 millisecond'`,
		olderThan.Milliseconds()).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("count stuck sagas: %w", err)
	}
	return n, nil
}

// StockEntry is a saga's row in the stock ledger (its fields in the order
// StockLedger selects them).
type StockEntry struct {
	SagaID    string          `json:"saga_id"`
	State     string          `json:"state"`
	Items     json.RawMessage `json:"items"`
	Reason    string          `json:"reason,omitempty"`
	ItemID    string          `json:"item_id,omitempty"`
	CreatedAt time.Time       `json:"created_at"`
	UpdatedAt time.Time       `json:"updated_at"`
}

// PaymentEntry is a saga's row in the payment ledger (its fields in the
// order PaymentLedger selects them).
type PaymentEntry struct {
	SagaID    string    `json:"saga_id"`
	UserID    string    `json:"user_id"`
	State     string    `json:"state"`
	Amount    int64     `json:"amount"`
	Reason    string    `json:"reason,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// StockLedger returns the stock ledger rows of the given sagas.
func StockLedger(ctx context.Context, db pgtx.Executor, sagaIDs []string) ([]StockEntry, error) {
	return pgtx.Collect(ctx, db, pgx.RowToStructByPos[StockEntry], "read stock ledger",
		`SELECT saga_id, state, items, coalesce(reason, ''), coalesce(item_id, ''), created_at, updated_at
		FROM stock_ledger WHERE saga_id = ANY($1) ORDER BY created_at`, sagaIDs)
}

// PaymentLedger returns the payment ledger rows of the given sagas.
func PaymentLedger(ctx context.Context, db pgtx.Executor, sagaIDs []string) ([]PaymentEntry, error) {
	return pgtx.Collect(ctx, db, pgx.RowToStructByPos[PaymentEntry], "read payment ledger",
		`SELECT saga_id, user_id, state, amount, coalesce(reason, ''), created_at, updated_at
		FROM payment_ledger WHERE saga_id = ANY($1) ORDER BY created_at`, sagaIDs)
}
