-- The one current definition of stock_reserve, reapplied after the numbered
-- migrations on every start (db-migrations/migrations.go, docs/sql.md): edit
-- it here, never in a numbered migration.
--
-- stock_reserve is the saga's stock step in one round trip (one statement,
-- committed on its own). It starts by claiming the saga's ledger row, which
-- orders every race on one saga before anything else happens:
--   * the same step delivered twice at once: the second INSERT waits for the
--     first transaction, then finds its row and answers from it;
--   * a compensation before its step: stock_release writes a tombstone, and
--     the late reserve finds it and takes nothing;
--   * a compensation racing its step: stock_release waits for the reserve's
--     row, then gives back exactly what it took.
-- Locks are taken ledger row first, then item rows in id order, as in
-- stock_release, so the two cannot deadlock with each other or other sagas.
-- Statements are few because each pays for an executor start-up: claim,
-- lock, then one statement that finds the first item that cannot be taken
-- and either takes them all or rejects (3 statements).
CREATE OR REPLACE FUNCTION stock_reserve(p_saga_id text, p_order_id text, p_items jsonb, p_overflow text)
RETURNS SETOF stock_ledger
LANGUAGE plpgsql AS $$
DECLARE
    entry    stock_ledger;
    rejected stock_ledger;
BEGIN
    -- p_items: [{"item_id", "quantity"}], one entry per item (the caller
    -- merged repeats); p_overflow names an item whose merged quantity passed
    -- int64, which no stock can cover.
    INSERT INTO stock_ledger (saga_id, order_id, state, items)
    VALUES (p_saga_id, p_order_id, 'reserved', p_items)
    ON CONFLICT (saga_id) DO NOTHING
    RETURNING * INTO entry;
    IF NOT FOUND THEN
        -- Redelivery, or the compensation came first: answer from the row.
        RETURN QUERY SELECT * FROM stock_ledger WHERE saga_id = p_saga_id;
        RETURN;
    END IF;

    PERFORM 1 FROM items
    WHERE id IN (SELECT v.item_id FROM jsonb_to_recordset(p_items) AS v (item_id text))
    ORDER BY id FOR UPDATE;

    -- The first item (in the caller's order) that cannot be taken, read
    -- once: with one, the ledger row says so; without, every item is taken.
    -- The items are locked, so one snapshot sees what two statements would.
    WITH short AS (
        SELECT v.item_id, CASE WHEN i.id IS NULL THEN 'unknown_item' ELSE 'insufficient_stock' END AS reason
        FROM ROWS FROM (jsonb_to_recordset(p_items) AS (item_id text, quantity bigint)) WITH ORDINALITY AS v (item_id, quantity, ord)
        LEFT JOIN items i ON i.id = v.item_id
        WHERE i.id IS NULL OR v.item_id = p_overflow OR i.stock < v.quantity
        ORDER BY v.ord
        LIMIT 1
    ), taken AS (
        UPDATE items SET stock = items.stock - v.quantity
        FROM jsonb_to_recordset(p_items) AS v (item_id text, quantity bigint)
        WHERE items.id = v.item_id AND NOT EXISTS (SELECT FROM short)
    )
    UPDATE stock_ledger l
    SET state = 'rejected', items = '[]', reason = short.reason, item_id = short.item_id
    FROM short
    WHERE l.saga_id = p_saga_id
    RETURNING l.* INTO rejected;
    IF FOUND THEN
        RETURN NEXT rejected;
    ELSE
        RETURN NEXT entry;
    END IF;
END
$$;
