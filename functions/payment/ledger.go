package payment

import (
	"log/slog"

	"github.com/jackc/pgx/v5"

	"github.com/wdm-knative/webshop/functions/participant"
	"github.com/wdm-knative/webshop/schemas"
)

// LedgerState is what payment did for one checkout saga (the table's
// migration, db-migrations/payment/00002_saga_ledger.sql, explains each).
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

// LogValue is the row as a step's debug log line shows it.
func (e LedgerEntry) LogValue() slog.Value {
	return slog.GroupValue(slog.String("saga", e.SagaID), slog.String("state", string(e.State)), slog.String("reason", string(e.Reason)))
}

// ledgerColumns are the columns scanLedger reads, in its order.
const ledgerColumns = `saga_id, order_id, user_id, state, amount, coalesce(reason, '')`

// scanLedger reads a ledger row selected as ledgerColumns.
func scanLedger(row pgx.Row) (LedgerEntry, error) {
	var e LedgerEntry
	err := row.Scan(&e.SagaID, &e.OrderID, &e.UserID, &e.State, &e.Amount, &e.Reason)
	return e, err
}

// ledger is the payment ledger in the payment database.
func (s *Store) ledger() participant.Ledger[LedgerEntry] {
	return participant.Ledger[LedgerEntry]{DB: s.db, Columns: ledgerColumns, Scan: scanLedger}
}
