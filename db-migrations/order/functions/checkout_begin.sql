-- The one current definition of checkout_begin, reapplied after the numbered
-- migrations on every start (db-migrations/migrations.go, docs/sql.md): edit
-- it here, never in a numbered migration.
--
-- checkout_begin starts the checkout of an order or joins the one running,
-- under the order's row lock (the lock every item change takes too), so
-- concurrent checkouts of one order queue on it and the later ones join the
-- first's saga. outcome is one of:
--   not_found - no such order
--   paid      - the order is paid already; nothing runs
--   empty     - the order has no items; nothing runs
--   joined    - a saga of the order is running (saga_id names it)
--   created   - a new saga p_saga_id took a snapshot of the order, which is
--               now checking_out; the caller sends its checkout.requested
-- Two statements, since each in PL/pgSQL pays for an executor start-up: the
-- order's row lock, then one that under it finds the running saga or creates
-- one and marks the order checking_out. Results are OUT columns sent with
-- RETURN NEXT.
CREATE OR REPLACE FUNCTION checkout_begin(p_order_id text, p_saga_id text)
RETURNS TABLE (outcome text, saga_id text, user_id text, items jsonb, total_cost bigint)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    o orders;
BEGIN
    SELECT * INTO o FROM orders WHERE id = p_order_id FOR UPDATE;
    IF NOT FOUND THEN
        outcome := 'not_found';
        RETURN NEXT;
        RETURN;
    ELSIF o.status = 'paid' THEN
        outcome := 'paid';
        user_id := o.user_id;
        total_cost := o.total_cost;
        RETURN NEXT;
        RETURN;
    END IF;

    -- A statement of its own, begun after the lock was granted, so its
    -- snapshot holds whatever saga the previous holder created. The insert
    -- runs only when no saga runs, and the order moves only when it did.
    WITH running AS (
        SELECT r.id, r.user_id, r.items, r.total_cost FROM sagas r
        WHERE r.order_id = p_order_id AND r.status IN ('pending', 'compensating')
    ), created AS (
        INSERT INTO sagas (id, order_id, user_id, items, total_cost)
        SELECT p_saga_id, p_order_id, o.user_id,
               jsonb_agg(jsonb_build_object('item_id', l.item_id, 'quantity', l.quantity, 'unit_price', l.unit_price)
                         ORDER BY l.item_id),
               o.total_cost
        FROM order_items l
        WHERE l.order_id = p_order_id AND NOT EXISTS (SELECT FROM running)
        HAVING count(*) > 0
        RETURNING sagas.id, sagas.user_id, sagas.items, sagas.total_cost
    ), checking_out AS (
        UPDATE orders SET status = 'checking_out'
        WHERE orders.id = p_order_id AND EXISTS (SELECT FROM created)
    )
    SELECT 'joined', r.id, r.user_id, r.items, r.total_cost FROM running r
    UNION ALL
    SELECT 'created', c.id, c.user_id, c.items, c.total_cost FROM created c
    INTO outcome, saga_id, user_id, items, total_cost;
    IF NOT FOUND THEN
        outcome := 'empty';
        user_id := o.user_id;
        total_cost := o.total_cost;
    END IF;
    RETURN NEXT;
END
$$;
