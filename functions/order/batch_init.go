package order

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/wdm-knative/webshop/internal/pgtx"
)

// BatchInit writes n orders and their items in one transaction of two
// statements, every row generated inside Postgres (no per-row round trips).
func (s *Store) BatchInit(ctx context.Context, n, nItems, nUsers, price int64) error {
	err := pgtx.WithTx(ctx, s.db, func(tx pgx.Tx) error {
		// Old lines of the overwritten orders go first, in their own statement:
		// sub-statements of one WITH run in no defined order, and an insert of a
		// line running before the delete of its old version would collide.
		_, err := tx.Exec(ctx, `
		DELETE FROM order_items WHERE order_id IN (SELECT g::text FROM generate_series(0, $1::bigint - 1) AS g)`, n)
		if err != nil {
			return fmt.Errorf("clear items: %w", err)
		}
		// MATERIALIZED draws the random picks once, for both inserts. Two picks
		// of the same item make one line of quantity 2 (no GROUP BY: hashing
		// 200,000 lines spills to disk with a small work_mem).
		_, err = tx.Exec(ctx, `
		WITH picks AS MATERIALIZED (
			SELECT g::text AS id,
			       floor(random() * $3::bigint)::bigint::text AS user_id,
			       floor(random() * $2::bigint)::bigint::text AS item1,
			       floor(random() * $2::bigint)::bigint::text AS item2
			FROM generate_series(0, $1::bigint - 1) AS g
		), upserted AS (
			INSERT INTO orders (id, user_id, status, total_cost)
			SELECT id, user_id, 'open', 2 * $4::bigint FROM picks
			ON CONFLICT (id) DO UPDATE
			SET user_id = EXCLUDED.user_id, status = 'open', total_cost = EXCLUDED.total_cost
		)
		INSERT INTO order_items (order_id, item_id, quantity, unit_price)
		SELECT id, item1, CASE WHEN item1 = item2 THEN 2 ELSE 1 END, $4::bigint FROM picks
		UNION ALL
		SELECT id, item2, 1, $4::bigint FROM picks WHERE item2 <> item1`,
			n, nItems, nUsers, price)
		return err
	})
	if err != nil {
		return fmt.Errorf("batch init %d orders: %w", n, err)
	}
	return nil
}
