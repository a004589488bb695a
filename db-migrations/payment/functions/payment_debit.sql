-- The one current definition of payment_debit, reapplied after the numbered
-- migrations on every start (db-migrations/migrations.go, docs/sql.md): edit
-- it here, never in a numbered migration.
--
-- payment_debit is the saga's payment step in one round trip. Like
-- stock_reserve (db-migrations/stock/functions/stock_reserve.sql) it starts
-- by claiming the saga's ledger row, which orders every race on one saga: a
-- duplicate debit answers from the first one's row, a refund before its
-- debit leaves a tombstone that refuses the late debit, and a refund racing
-- its debit waits for it and gives back exactly what it took. Locks: ledger
-- row first, then the user's row. The claimed row comes from the INSERT's
-- RETURNING (2 statements when debited).
CREATE OR REPLACE FUNCTION payment_debit(p_saga_id text, p_order_id text, p_user_id text, p_amount bigint)
RETURNS SETOF payment_ledger
LANGUAGE plpgsql AS $$
DECLARE
    entry payment_ledger;
BEGIN
    INSERT INTO payment_ledger (saga_id, order_id, user_id, state, amount)
    VALUES (p_saga_id, p_order_id, p_user_id, 'debited', p_amount)
    ON CONFLICT (saga_id) DO NOTHING
    RETURNING * INTO entry;
    IF NOT FOUND THEN
        -- Redelivery, or the compensation came first: answer from the row.
        RETURN QUERY SELECT * FROM payment_ledger WHERE saga_id = p_saga_id;
        RETURN;
    END IF;

    UPDATE users SET credit = credit - p_amount WHERE id = p_user_id AND credit >= p_amount;
    IF FOUND THEN
        RETURN NEXT entry;
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
