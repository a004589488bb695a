-- +goose Up
-- checkout_begin and saga_step with fewer statements per call: each SQL
-- statement in PL/pgSQL pays for an executor start-up, which dominated their
-- cost. Results are set as OUT columns and sent with RETURN NEXT instead of a
-- RETURN QUERY SELECT; lookups and writes that need no decision in between
-- share a statement. Same results, same locks, taken in the same order.

-- checkout_begin: the order's row lock, then one statement that under it
-- finds the running saga or creates one and marks the order checking_out
-- (before: lock, find, insert, update, return; now: 2 statements).
-- +goose StatementBegin
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
-- +goose StatementEnd

-- saga_step: the saga's row lock and its transition in one statement, then
-- one write (before: lock, lookup, update, [order update, notify,] return;
-- now: 2 statements, 1 when nothing changes). The transition is a scalar
-- subquery of the locking SELECT, not a join: should the lock wait for a
-- concurrent step, Postgres re-evaluates the target list on the row's new
-- version (EvalPlanQual), so the lookup sees the state as of the lock,
-- whereas a joined transition row would stay the one of the old state.
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION saga_step(p_saga_id text, p_input text, p_reason text)
RETURNS TABLE (order_id text, user_id text, items jsonb, total_cost bigint, status text, stock text,
               payment text, reason text, created_at timestamptz, emit text, order_change text)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    locked   record;
    s        sagas;
    t        saga_transitions;
    notified text;
BEGIN
    SELECT sg AS saga,
           (SELECT tr FROM saga_transitions tr
            WHERE (tr.status, tr.stock, tr.payment, tr.input) = (sg.status, sg.stock, sg.payment, p_input)) AS step
    INTO locked
    FROM sagas sg WHERE sg.id = p_saga_id FOR UPDATE;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    s := locked.saga;
    t := locked.step;
    order_id := s.order_id;
    user_id := s.user_id;
    items := s.items;
    total_cost := s.total_cost;
    created_at := s.created_at;
    IF t.input IS NULL THEN
        -- Nothing happens to this saga on this input (a duplicate, a late reply).
        status := s.status;
        stock := s.stock;
        payment := s.payment;
        reason := coalesce(s.reason, '');
        emit := 'none';
        order_change := 'none';
        RETURN NEXT;
        RETURN;
    END IF;

    IF (t.next_status, t.next_stock, t.next_payment) IS DISTINCT FROM (s.status, s.stock, s.payment) THEN
        IF s.status = 'pending' AND t.next_status = 'compensating' AND s.reason IS NULL THEN
            s.reason := CASE WHEN p_input = 'Deadline' THEN 'deadline' ELSE nullif(p_reason, '') END;
        END IF;
        IF t.order_change = 'none' THEN
            UPDATE sagas SET status = t.next_status, stock = t.next_stock, payment = t.next_payment,
                reason = s.reason, updated_at = now(),
                decided_at = CASE WHEN t.next_status IN ('paid', 'failed') THEN now() END
            WHERE id = p_saga_id;
        ELSE
            -- The order moves in the same statement, after the saga (an
            -- unreferenced WITH runs last); a no-op should the order be gone
            -- or already moved.
            WITH moved AS (
                UPDATE orders SET status = t.order_change WHERE id = s.order_id AND status = 'checking_out'
            )
            UPDATE sagas SET status = t.next_status, stock = t.next_stock, payment = t.next_payment,
                reason = s.reason, updated_at = now(),
                decided_at = CASE WHEN t.next_status IN ('paid', 'failed') THEN now() END
            WHERE id = p_saga_id;
        END IF;
        IF t.next_status IN ('paid', 'failed') THEN
            -- An assignment, not PERFORM: a simple expression needs no statement.
            notified := pg_notify('saga_outcome', json_build_object('saga_id', p_saga_id, 'order_id', s.order_id,
                'status', t.next_status, 'reason', coalesce(s.reason, ''))::text);
        END IF;
    END IF;
    status := t.next_status;
    stock := t.next_stock;
    payment := t.next_payment;
    reason := coalesce(s.reason, '');
    emit := t.emit;
    order_change := t.order_change;
    RETURN NEXT;
END
$$;
-- +goose StatementEnd

-- +goose Down
-- The definitions of 00003.
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION checkout_begin(p_order_id text, p_saga_id text)
RETURNS TABLE (outcome text, saga_id text, user_id text, items jsonb, total_cost bigint)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    o orders;
    s sagas;
BEGIN
    SELECT * INTO o FROM orders WHERE id = p_order_id FOR UPDATE;
    IF NOT FOUND THEN
        RETURN QUERY SELECT 'not_found', NULL::text, NULL::text, NULL::jsonb, NULL::bigint;
        RETURN;
    ELSIF o.status = 'paid' THEN
        RETURN QUERY SELECT 'paid', NULL::text, o.user_id, NULL::jsonb, o.total_cost;
        RETURN;
    END IF;

    SELECT * INTO s FROM sagas WHERE order_id = p_order_id AND status IN ('pending', 'compensating');
    IF FOUND THEN
        RETURN QUERY SELECT 'joined', s.id, s.user_id, s.items, s.total_cost;
        RETURN;
    END IF;

    INSERT INTO sagas (id, order_id, user_id, items, total_cost)
    SELECT p_saga_id, p_order_id, o.user_id,
           jsonb_agg(jsonb_build_object('item_id', l.item_id, 'quantity', l.quantity, 'unit_price', l.unit_price)
                     ORDER BY l.item_id),
           o.total_cost
    FROM order_items l
    WHERE l.order_id = p_order_id
    HAVING count(*) > 0
    RETURNING * INTO s;
    IF NOT FOUND THEN
        RETURN QUERY SELECT 'empty', NULL::text, o.user_id, NULL::jsonb, o.total_cost;
        RETURN;
    END IF;
    UPDATE orders SET status = 'checking_out' WHERE id = p_order_id;
    RETURN QUERY SELECT 'created', s.id, s.user_id, s.items, s.total_cost;
END
$$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE OR REPLACE FUNCTION saga_step(p_saga_id text, p_input text, p_reason text)
RETURNS TABLE (order_id text, user_id text, items jsonb, total_cost bigint, status text, stock text,
               payment text, reason text, created_at timestamptz, emit text, order_change text)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    s sagas;
    t saga_transitions;
BEGIN
    SELECT * INTO s FROM sagas WHERE id = p_saga_id FOR UPDATE;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    SELECT * INTO t FROM saga_transitions
    WHERE (status, stock, payment, input) = (s.status, s.stock, s.payment, p_input);
    IF NOT FOUND THEN
        -- Nothing happens to this saga on this input (a duplicate, a late reply).
        RETURN QUERY SELECT s.order_id, s.user_id, s.items, s.total_cost, s.status, s.stock, s.payment,
            coalesce(s.reason, ''), s.created_at, 'none', 'none';
        RETURN;
    END IF;

    IF (t.next_status, t.next_stock, t.next_payment) IS DISTINCT FROM (s.status, s.stock, s.payment) THEN
        IF s.status = 'pending' AND t.next_status = 'compensating' AND s.reason IS NULL THEN
            s.reason := CASE WHEN p_input = 'Deadline' THEN 'deadline' ELSE nullif(p_reason, '') END;
        END IF;
        UPDATE sagas SET status = t.next_status, stock = t.next_stock, payment = t.next_payment,
            reason = s.reason, updated_at = now(),
            decided_at = CASE WHEN t.next_status IN ('paid', 'failed') THEN now() END
        WHERE id = p_saga_id;
        IF t.order_change <> 'none' THEN
            -- A no-op should the order be gone or already moved.
            UPDATE orders SET status = t.order_change WHERE id = s.order_id AND status = 'checking_out';
        END IF;
        IF t.next_status IN ('paid', 'failed') THEN
            PERFORM pg_notify('saga_outcome', json_build_object('saga_id', p_saga_id, 'order_id', s.order_id,
                'status', t.next_status, 'reason', coalesce(s.reason, ''))::text);
        END IF;
    END IF;
    RETURN QUERY SELECT s.order_id, s.user_id, s.items, s.total_cost, t.next_status, t.next_stock, t.next_payment,
        coalesce(s.reason, ''), s.created_at, t.emit, t.order_change;
END
$$;
-- +goose StatementEnd
