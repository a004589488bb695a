-- The one current definition of saga_step, reapplied after the numbered
-- migrations on every start (db-migrations/migrations.go, docs/sql.md): edit
-- it here, never in a numbered migration.
--
-- saga_step feeds one input (a participant's reply, by its name in
-- saga/machine.go) to a saga under its row lock: it looks up the transition
-- (saga_transitions.sql), saves the new state, moves the order (paid, or
-- open again), records why the saga compensates, and announces a final state
-- on the saga_outcome channel when the transaction commits. No row: the saga
-- does not exist. The emit is returned even when nothing changed, since a
-- redelivered input must yield the same event.
--
-- The row lock and the transition in one statement, then one write (2
-- statements, 1 when nothing changes). The transition is a scalar subquery
-- of the locking SELECT, not a join: should the lock wait for a concurrent
-- step, Postgres re-evaluates the target list on the row's new version
-- (EvalPlanQual), so the lookup sees the state as of the lock, whereas a
-- joined transition row would stay the one of the old state.
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
