package stock

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

// LedgerState is what stock did for one checkout saga (db-migrations/stock
// 00002 explains each).
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

// errLedgerRace is a concurrent delivery of the same saga having written the
// ledger row first; the loser reads that row instead.
var errLedgerRace = errors.New("ledger row written concurrently")

// maxLedgerRaces bounds the retries after errLedgerRace.
const maxLedgerRaces = 5

// loadLedger reads a saga's ledger row, locking it when lock is set.
func loadLedger(ctx context.Context, q pgx.Tx, sagaID string, lock bool) (LedgerEntry, bool, error) {
	sql := `SELECT saga_id, order_id, state, items, coalesce(reason, ''), coalesce(item_id, '')
		FROM stock_ledger WHERE saga_id = $1`
	if lock {
		sql += ` FOR UPDATE`
	}
	var e LedgerEntry
	err := q.QueryRow(ctx, sql, sagaID).Scan(&e.SagaID, &e.OrderID, &e.State, &e.Items, &e.Reason, &e.ItemID)
	if errors.Is(err, pgx.ErrNoRows) {
		return LedgerEntry{}, false, nil
	}
	if err != nil {
		return LedgerEntry{}, false, fmt.Errorf("load stock ledger of saga %q: %w", sagaID, err)
	}
	return e, true, nil
}

// insertLedger writes a new ledger row; errLedgerRace if one exists already.
func insertLedger(ctx context.Context, tx pgx.Tx, e LedgerEntry) error {
	if e.Items == nil {
		e.Items = []schemas.Item{}
	}
	tag, err := tx.Exec(ctx, `
		INSERT INTO stock_ledger (saga_id, order_id, state, items, reason, item_id)
		VALUES ($1, $2, $3, $4, nullif($5, ''), nullif($6, ''))
		ON CONFLICT (saga_id) DO NOTHING`,
		e.SagaID, e.OrderID, e.State, e.Items, string(e.Reason), e.ItemID)
	if err != nil {
		return fmt.Errorf("write stock ledger of saga %q: %w", e.SagaID, err)
	}
	if tag.RowsAffected() == 0 {
		return errLedgerRace
	}
	return nil
}

// lockItems locks the rows of the given items in id order (every multi-item
// transaction locks in the same order, so they cannot deadlock) and returns
// their stock levels; unknown items are missing from the map.
func lockItems(ctx context.Context, tx pgx.Tx, ids []string) (map[string]int64, error) {
	rows, err := tx.Query(ctx, `SELECT id, stock FROM items WHERE id = ANY($1) ORDER BY id FOR UPDATE`, ids)
	if err != nil {
		return nil, fmt.Errorf("lock items: %w", err)
	}
	levels := map[string]int64{}
	var (
		id    string
		level int64
	)
	_, err = pgx.ForEachRow(rows, []any{&id, &level}, func() error {
		levels[id] = level
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("lock items: %w", err)
	}
	return levels, nil
}

// changeStock adds delta times each item's quantity to its stock.
func changeStock(ctx context.Context, tx pgx.Tx, items []schemas.Item, delta int64) error {
	ids := make([]string, len(items))
	qs := make([]int64, len(items))
	for i, it := range items {
		ids[i], qs[i] = it.ItemID, delta*it.Quantity
	}
	tag, err := tx.Exec(ctx, `
		UPDATE items SET stock = items.stock + v.q
		FROM unnest($1::text[], $2::bigint[]) AS v(id, q)
		WHERE items.id = v.id`, ids, qs)
	if err != nil {
		return fmt.Errorf("change stock: %w", err)
	}
	if tag.RowsAffected() != int64(len(items)) {
		// Items are never deleted, so this is corruption, not a race.
		return fmt.Errorf("change stock: %d of %d items updated", tag.RowsAffected(), len(items))
	}
	return nil
}

// Events serves the saga's stock steps as CloudEvent handlers.
type Events struct {
	store *Store
	log   *slog.Logger
}

// NewEvents returns the event side of the stock domain.
func NewEvents(store *Store, log *slog.Logger) *Events {
	return &Events{store: store, log: log}
}

// Operations maps each stock event operation's name to its handler.
func (h *Events) Operations() map[string]eventhttp.Handler {
	return map[string]eventhttp.Handler{
		operation.StockReserve: h.Reserve,
		operation.StockRelease: h.Release,
	}
}

// reserveReply answers a checkout.requested from the ledger row.
func reserveReply(in event.Event, e LedgerEntry) (*event.Event, error) {
	src := schemas.Source(operation.StockReserve)
	switch e.State {
	case LedgerReserved, LedgerReleased:
		return schemas.Reply(in, src, schemas.TypeStockReserved,
			schemas.StockReserved{SagaID: e.SagaID, OrderID: e.OrderID, Items: e.Items})
	case LedgerRejected:
		return schemas.Reply(in, src, schemas.TypeStockRejected,
			schemas.StockRejected{SagaID: e.SagaID, OrderID: e.OrderID, Reason: e.Reason, ItemID: e.ItemID})
	default: // tombstone: the saga was compensated before this arrived
		return schemas.Reply(in, src, schemas.TypeStockRejected,
			schemas.StockRejected{SagaID: e.SagaID, OrderID: e.OrderID, Reason: schemas.ReasonCompensated})
	}
}

// releaseReply answers a checkout.compensate from the ledger row: released,
// with the items given back (none unless something had been reserved).
func releaseReply(in event.Event, e LedgerEntry) (*event.Event, error) {
	items := []schemas.Item{}
	if e.State == LedgerReleased {
		items = e.Items
	}
	return schemas.Reply(in, schemas.Source(operation.StockRelease), schemas.TypeStockReleased,
		schemas.StockReleased{SagaID: e.SagaID, OrderID: e.OrderID, Items: items})
}
