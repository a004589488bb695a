-- The one current definition of payment_refund, reapplied after the numbered
-- migrations on every start (db-migrations/migrations.go, docs/sql.md): edit
-- it here, never in a numbered migration.
--
-- payment_refund is the compensation of payment_debit (payment_debit.sql
-- explains the races the ledger row settles). Before any debit it leaves a
-- tombstone (1 statement); after one, it credits the user in the statement
-- that marks the row refunded (3 statements). Rejected, refunded or
-- tombstone rows give nothing back.
CREATE OR REPLACE FUNCTION payment_refund(p_saga_id text, p_order_id text, p_user_id text)
RETURNS SETOF payment_ledger
LANGUAGE plpgsql AS $$
DECLARE
    entry    payment_ledger;
    refunded payment_ledger;
BEGIN
    INSERT INTO payment_ledger (saga_id, order_id, user_id, state)
    VALUES (p_saga_id, p_order_id, p_user_id, 'tombstone')
    ON CONFLICT (saga_id) DO NOTHING
    RETURNING * INTO entry;
    IF FOUND THEN
        -- Nothing was debited, and now nothing will be.
        RETURN NEXT entry;
        RETURN;
    END IF;

    SELECT * INTO entry FROM payment_ledger WHERE saga_id = p_saga_id FOR UPDATE;
    IF entry.state = 'debited' THEN
        WITH given AS (
            UPDATE users SET credit = credit + entry.amount WHERE id = entry.user_id
            RETURNING 1
        )
        UPDATE payment_ledger SET state = 'refunded', updated_at = now()
        WHERE saga_id = p_saga_id AND EXISTS (SELECT FROM given)
        RETURNING * INTO refunded;
        IF NOT FOUND THEN
            -- Users are never deleted while a debit of theirs stands.
            RAISE EXCEPTION 'refund of saga %: user % not found', p_saga_id, entry.user_id;
        END IF;
        entry := refunded;
    END IF;
    -- rejected, refunded or tombstone: nothing (more) to give back.
    RETURN NEXT entry;
END
$$;
