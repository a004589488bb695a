package payment

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/jackc/pgx/v5"

	"github.com/wdm-knative/webshop/internal/eventhttp"
	"github.com/wdm-knative/webshop/internal/operation"
	"github.com/wdm-knative/webshop/schemas"
)

// LedgerState is what payment did for one checkout saga (db-migrations/
// payment 00002 explains each).
type LedgerState string

// The ledger states.
const (
	LedgerDebited   LedgerState = "debited"
	LedgerRejected  LedgerState = "rejected"
	LedgerRefunded  LedgerState = "refunded"
	LedgerTombstone LedgerState = "tombstone"
)

// LedgerEntry is a saga's row in the payment ledger.
type LedgerEntry struct {
	SagaID  string
	OrderID string
	UserID  string
	State   LedgerState
	Amount  int64          // what was taken (debited, refunded)
	Reason  schemas.Reason // why nothing was taken (rejected)
}

// errLedgerRace is a concurrent delivery of the same saga having written the
// ledger row first; the loser reads that row instead.
var errLedgerRace = errors.New("ledger row written concurrently")

// maxLedgerRaces bounds the retries after errLedgerRace.
const maxLedgerRaces = 5

// loadLedger reads a saga's ledger row, locking it when lock is set.
func loadLedger(ctx context.Context, tx pgx.Tx, sagaID string, lock bool) (LedgerEntry, bool, error) {
	sql := `SELECT saga_id, order_id, user_id, state, amount, coalesce(reason, '')
		FROM payment_ledger WHERE saga_id = $1`
	if lock {
		sql += ` FOR UPDATE`
	}
	var e LedgerEntry
	err := tx.QueryRow(ctx, sql, sagaID).Scan(&e.SagaID, &e.OrderID, &e.UserID, &e.State, &e.Amount, &e.Reason)
	if errors.Is(err, pgx.ErrNoRows) {
		return LedgerEntry{}, false, nil
	}
	if err != nil {
		return LedgerEntry{}, false, fmt.Errorf("load payment ledger of saga %q: %w", sagaID, err)
	}
	return e, true, nil
}

// insertLedger writes a new ledger row; errLedgerRace if one exists already.
func insertLedger(ctx context.Context, tx pgx.Tx, e LedgerEntry) error {
	tag, err := tx.Exec(ctx, `
		INSERT INTO payment_ledger (saga_id, order_id, user_id, state, amount, reason)
		VALUES ($1, $2, $3, $4, $5, nullif($6, ''))
		ON CONFLICT (saga_id) DO NOTHING`,
		e.SagaID, e.OrderID, e.UserID, e.State, e.Amount, string(e.Reason))
	if err != nil {
		return fmt.Errorf("write payment ledger of saga %q: %w", e.SagaID, err)
	}
	if tag.RowsAffected() == 0 {
		return errLedgerRace
	}
	return nil
}

// changeCredit adds delta to a user's credit; the row must be locked.
func changeCredit(ctx context.Context, tx pgx.Tx, userID string, delta int64) error {
	tag, err := tx.Exec(ctx, `UPDATE users SET credit = credit + $2 WHERE id = $1`, userID, delta)
	if err != nil {
		return fmt.Errorf("change credit of %q: %w", userID, err)
	}
	if tag.RowsAffected() != 1 {
		return fmt.Errorf("change credit of %q: %w", userID, ErrUserNotFound)
	}
	return nil
}

// Events serves the saga's payment steps as CloudEvent handlers.
type Events struct {
	store *Store
	log   *slog.Logger
}

// NewEvents returns the event side of the payment domain.
func NewEvents(store *Store, log *slog.Logger) *Events {
	return &Events{store: store, log: log}
}

// Operations maps each payment event operation's name to its handler.
func (h *Events) Operations() map[string]eventhttp.Handler {
	return map[string]eventhttp.Handler{
		operation.PaymentDebit:  h.Debit,
		operation.PaymentRefund: h.Refund,
	}
}

// debitReply answers a checkout.requested from the ledger row.
func debitReply(in event.Event, e LedgerEntry) (*event.Event, error) {
	src := schemas.Source(operation.PaymentDebit)
	switch e.State {
	case LedgerDebited, LedgerRefunded:
		return schemas.Reply(in, src, schemas.TypePaymentDebited,
			schemas.PaymentDebited{SagaID: e.SagaID, OrderID: e.OrderID, UserID: e.UserID, Amount: e.Amount})
	case LedgerRejected:
		return schemas.Reply(in, src, schemas.TypePaymentRejected,
			schemas.PaymentRejected{SagaID: e.SagaID, OrderID: e.OrderID, UserID: e.UserID, Reason: e.Reason})
	default: // tombstone: the saga was compensated before this arrived
		return schemas.Reply(in, src, schemas.TypePaymentRejected,
			schemas.PaymentRejected{SagaID: e.SagaID, OrderID: e.OrderID, UserID: e.UserID, Reason: schemas.ReasonCompensated})
	}
}

// refundReply answers a checkout.compensate from the ledger row: refunded,
// with the amount given back (0 unless something had been debited).
func refundReply(in event.Event, e LedgerEntry) (*event.Event, error) {
	var amount int64
	if e.State == LedgerRefunded {
		amount = e.Amount
	}
	return schemas.Reply(in, schemas.Source(operation.PaymentRefund), schemas.TypePaymentRefunded,
		schemas.PaymentRefunded{SagaID: e.SagaID, OrderID: e.OrderID, UserID: e.UserID, Amount: amount})
}
