-- The one current definition of stock_release, reapplied after the numbered
-- migrations on every start (db-migrations/migrations.go, docs/sql.md): edit
-- it here, never in a numbered migration.
--
-- stock_release is the compensation of stock_reserve (stock_reserve.sql
-- explains the races the ledger row settles). Before any reservation it
-- leaves a tombstone that refuses a late one (1 statement); after one, it
-- gives the items back in the statement that marks the row released (4
-- statements). Rejected, released or tombstone rows give nothing back.
CREATE OR REPLACE FUNCTION stock_release(p_saga_id text, p_order_id text)
RETURNS SETOF stock_ledger
LANGUAGE plpgsql AS $$
DECLARE
    entry    stock_ledger;
    released stock_ledger;
    n        bigint;
BEGIN
    INSERT INTO stock_ledger (saga_id, order_id, state)
    VALUES (p_saga_id, p_order_id, 'tombstone')
    ON CONFLICT (saga_id) DO NOTHING
    RETURNING * INTO entry;
    IF FOUND THEN
        -- Nothing was reserved, and now nothing will be.
        RETURN NEXT entry;
        RETURN;
    END IF;

    SELECT * INTO entry FROM stock_ledger WHERE saga_id = p_saga_id FOR UPDATE;
    IF entry.state = 'reserved' THEN
        PERFORM 1 FROM items
        WHERE id IN (SELECT v.item_id FROM jsonb_to_recordset(entry.items) AS v (item_id text))
        ORDER BY id FOR UPDATE;
        -- Both writes in one statement: the ledger row and the items are
        -- locked already, so the order of the two does not matter.
        WITH given AS (
            UPDATE items SET stock = items.stock + v.quantity
            FROM jsonb_to_recordset(entry.items) AS v (item_id text, quantity bigint)
            WHERE items.id = v.item_id
            RETURNING 1
        )
        UPDATE stock_ledger SET state = 'released', updated_at = now()
        WHERE saga_id = p_saga_id AND (SELECT count(*) FROM given) = jsonb_array_length(entry.items)
        RETURNING * INTO released;
        IF NOT FOUND THEN
            -- Items are never deleted: this is corruption, not a race.
            SELECT count(*) INTO n FROM items
            WHERE id IN (SELECT v.item_id FROM jsonb_to_recordset(entry.items) AS v (item_id text));
            RAISE EXCEPTION 'release of saga %: % of % items found', p_saga_id, n, jsonb_array_length(entry.items);
        END IF;
        entry := released;
    END IF;
    -- rejected, released or tombstone: nothing (more) to give back.
    RETURN NEXT entry;
END
$$;
