-- +goose Up
-- The saga's two stock steps as functions, so that each is one round trip
-- (one statement, committed on its own) instead of a begin, reads, writes and
-- a commit. Both start by claiming the saga's ledger row, which orders every
-- race on one saga before anything else happens:
--   * the same step delivered twice at once: the second INSERT waits for the
--     first transaction, then finds its row and answers from it;
--   * a compensation before its step: release writes a tombstone, and the
--     late reserve finds it and takes nothing;
--   * a compensation racing its step: release waits for the reserve's row,
--     then gives back exactly what it took.
-- Locks are taken ledger row first, then item rows in id order, by both
-- functions, so they cannot deadlock with each other or with other sagas.

-- +goose StatementBegin
CREATE FUNCTION stock_reserve(p_saga_id text, p_order_id text, p_items jsonb, p_overflow text)
RETURNS SETOF stock_ledger
LANGUAGE plpgsql AS $$
DECLARE
    short_id     text;
    short_reason text;
BEGIN
    -- p_items: [{"item_id", "quantity"}], one entry per item (the caller
    -- merged repeats); p_overflow names an item whose merged quantity passed
    -- int64, which no stock can cover.
    INSERT INTO stock_ledger (saga_id, order_id, state, items)
    VALUES (p_saga_id, p_order_id, 'reserved', p_items)
    ON CONFLICT (saga_id) DO NOTHING;
    IF NOT FOUND THEN
        -- Redelivery, or the compensation came first: answer from the row.
        RETURN QUERY SELECT * FROM stock_ledger WHERE saga_id = p_saga_id;
        RETURN;
    END IF;

    PERFORM 1 FROM items
    WHERE id IN (SELECT v.item_id FROM jsonb_to_recordset(p_items) AS v (item_id text))
    ORDER BY id FOR UPDATE;

    -- The first item (in the caller's order) that cannot be taken.
    SELECT v.item_id, CASE WHEN i.id IS NULL THEN 'unknown_item' ELSE 'insufficient_stock' END
    INTO short_id, short_reason
    FROM ROWS FROM (jsonb_to_recordset(p_items) AS (item_id text, quantity bigint)) WITH ORDINALITY AS v (item_id, quantity, ord)
    LEFT JOIN items i ON i.id = v.item_id
    WHERE i.id IS NULL OR v.item_id = p_overflow OR i.stock < v.quantity
    ORDER BY v.ord
    LIMIT 1;

    IF short_id IS NOT NULL THEN
        RETURN QUERY UPDATE stock_ledger
            SET state = 'rejected', items = '[]', reason = short_reason, item_id = short_id
            WHERE saga_id = p_saga_id
            RETURNING *;
        RETURN;
    END IF;

    UPDATE items SET stock = items.stock - v.quantity
    FROM jsonb_to_recordset(p_items) AS v (item_id text, quantity bigint)
    WHERE items.id = v.item_id;
    RETURN QUERY SELECT * FROM stock_ledger WHERE saga_id = p_saga_id;
END
$$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION stock_release(p_saga_id text, p_order_id text)
RETURNS SETOF stock_ledger
LANGUAGE plpgsql AS $$
DECLARE
    entry stock_ledger;
    n     bigint;
BEGIN
    INSERT INTO stock_ledger (saga_id, order_id, state)
    VALUES (p_saga_id, p_order_id, 'tombstone')
    ON CONFLICT (saga_id) DO NOTHING;
    IF FOUND THEN
        -- Nothing was reserved, and now nothing will be.
        RETURN QUERY SELECT * FROM stock_ledger WHERE saga_id = p_saga_id;
        RETURN;
    END IF;

    SELECT * INTO entry FROM stock_ledger WHERE saga_id = p_saga_id FOR UPDATE;
    IF entry.state = 'reserved' THEN
        PERFORM 1 FROM items
        WHERE id IN (SELECT v.item_id FROM jsonb_to_recordset(entry.items) AS v (item_id text))
        ORDER BY id FOR UPDATE;
        UPDATE items SET stock = items.stock + v.quantity
        FROM jsonb_to_recordset(entry.items) AS v (item_id text, quantity bigint)
        WHERE items.id = v.item_id;
        GET DIAGNOSTICS n = ROW_COUNT;
        IF n <> jsonb_array_length(entry.items) THEN
            -- Items are never deleted: this is corruption, not a race.
            RAISE EXCEPTION 'release of saga %: % of % items found', p_saga_id, n, jsonb_array_length(entry.items);
        END IF;
        UPDATE stock_ledger SET state = 'released', updated_at = now()
        WHERE saga_id = p_saga_id
        RETURNING * INTO entry;
    END IF;
    -- rejected, released or tombstone: nothing (more) to give back.
    RETURN NEXT entry;
END
$$;
-- +goose StatementEnd

-- +goose Down
DROP FUNCTION stock_release(text, text);
DROP FUNCTION stock_reserve(text, text, jsonb, text);
