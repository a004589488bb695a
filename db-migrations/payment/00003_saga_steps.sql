-- +goose Up
-- The saga's two payment steps as functions, so that each is one round trip.
-- Both start by claiming the saga's ledger row, which orders every race on
-- one saga (see db-migrations/stock 00003): a duplicate debit answers from the
-- first one's row, a refund before its debit leaves a tombstone that refuses
-- the late debit, and a refund racing its debit waits for it and gives back
-- exactly what it took. Locks: ledger row first, then the user's row.

-- +goose StatementBegin
CREATE FUNCTION payment_debit(p_saga_id text, p_order_id text, p_user_id text, p_amount bigint)
RETURNS SETOF payment_ledger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO payment_ledger (saga_id, order_id, user_id, state, amount)
    VALUES (p_saga_id, p_order_id, p_user_id, 'debited', p_amount)
    ON CONFLICT (saga_id) DO NOTHING;
    IF NOT FOUND THEN
        -- Redelivery, or the compensation came first: answer from the row.
        RETURN QUERY SELECT * FROM payment_ledger WHERE saga_id = p_saga_id;
        RETURN;
    END IF;

    UPDATE users SET credit = credit - p_amount WHERE id = p_user_id AND credit >= p_amount;
    IF FOUND THEN
        RETURN QUERY SELECT * FROM payment_ledger WHERE saga_id = p_saga_id;
        RETURN;
    END IF;
    RETURN QUERY UPDATE payment_ledger
        SET state = 'rejected', amount = 0,
            reason = CASE WHEN EXISTS (SELECT 1 FROM users WHERE id = p_user_id)
                          THEN 'insufficient_credit' ELSE 'unknown_user' END
        WHERE saga_id = p_saga_id
        RETURNING *;
END
$$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION payment_refund(p_saga_id text, p_order_id text, p_user_id text)
RETURNS SETOF payment_ledger
LANGUAGE plpgsql AS $$
DECLARE
    entry payment_ledger;
BEGIN
    INSERT INTO payment_ledger (saga_id, order_id, user_id, state)
    VALUES (p_saga_id, p_order_id, p_user_id, 'tombstone')
    ON CONFLICT (saga_id) DO NOTHING;
    IF FOUND THEN
        -- Nothing was debited, and now nothing will be.
        RETURN QUERY SELECT * FROM payment_ledger WHERE saga_id = p_saga_id;
        RETURN;
    END IF;

    SELECT * INTO entry FROM payment_ledger WHERE saga_id = p_saga_id FOR UPDATE;
    IF entry.state = 'debited' THEN
        UPDATE users SET credit = credit + entry.amount WHERE id = entry.user_id;
        IF NOT FOUND THEN
            -- Users are never deleted while a debit of theirs stands.
            RAISE EXCEPTION 'refund of saga %: user % not found', p_saga_id, entry.user_id;
        END IF;
        UPDATE payment_ledger SET state = 'refunded', updated_at = now()
        WHERE saga_id = p_saga_id
        RETURNING * INTO entry;
    END IF;
    -- rejected, refunded or tombstone: nothing (more) to give back.
    RETURN NEXT entry;
END
$$;
-- +goose StatementEnd

-- +goose Down
DROP FUNCTION payment_refund(text, text, text);
DROP FUNCTION payment_debit(text, text, text, bigint);
