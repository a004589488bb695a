package stock

import (
	"log/slog"

	"github.com/jackc/pgx/v5"

	"github.com/wdm-knative/webshop/functions/participant"
	"github.com/wdm-knative/webshop/schemas"
)

// LedgerState is what stock did for one checkout saga (the table's
// migration, db-migrations/stock/00002_saga_ledger.sql, explains each).
type LedgerState string

// The ledger states.
const (
	LedgerReserved  LedgerState = "reserved"
	LedgerRejected  LedgerState = "rejected"
	LedgerReleased  LedgerState = "released"
	LedgerTombstone LedgerState = "tombstone"
)

// LedgerEntry is a saga's row in the stock ledger.
type LedgerEntry struct {
	SagaID  string
	OrderID string
	State   LedgerState
	Items   []schemas.Item // what was taken (reserved, released)
	Reason  schemas.Reason // why nothing was taken (rejected)
	ItemID  string         // the unknown or short item (rejected)
}

// LogValue is the row as a step's debug log line shows it.
func (e LedgerEntry) LogValue() slog.Value {
	return slog.GroupValue(slog.String("saga", e.SagaID), slog.String("state", string(e.State)), slog.String("reason", string(e.Reason)))
}

// ledgerColumns are the columns scanLedger reads, in its order.
const ledgerColumns = `saga_id, order_id, state, items, coalesce(reason, ''), coalesce(item_id, '')`

// scanLedger reads a ledger row selected as ledgerColumns.
func scanLedger(row pgx.Row) (LedgerEntry, error) {
	var e LedgerEntry
	err := row.Scan(&e.SagaID, &e.OrderID, &e.State, &e.Items, &e.Reason, &e.ItemID)
	return e, err
}

// ledger is the stock ledger in the stock database.
func (s *Store) ledger() participant.Ledger[LedgerEntry] {
	return participant.Ledger[LedgerEntry]{DB: s.db, Columns: ledgerColumns, Scan: scanLedger}
}
