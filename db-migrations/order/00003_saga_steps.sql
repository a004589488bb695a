-- +goose Up
-- The checkout's two order-database transactions as functions, so that each
-- is one round trip (one statement, committed on its own).

-- Every saga step writes updated_at: an index on it made no saga update a HOT
-- update. The sweep finds running sagas through sagas_one_active_per_order,
-- whose predicate is exactly "running". Room on each page keeps updates HOT.
DROP INDEX sagas_running_by_update;
ALTER TABLE sagas SET (fillfactor = 70);
ALTER TABLE orders SET (fillfactor = 90);

-- The saga's state machine (saga/machine.go, Transition) as a table: the rows
-- where an input changes the state, emits an event or moves the order; any
-- other (state, input) changes nothing. Derived from the Go machine, and
-- TestTransitionTable fails should the two ever differ: a change to the
-- machine needs a migration that rewrites these rows.
CREATE TABLE saga_transitions (
    status       text NOT NULL,
    stock        text NOT NULL,
    payment      text NOT NULL,
    input        text NOT NULL,
    next_status  text NOT NULL,
    next_stock   text NOT NULL,
    next_payment text NOT NULL,
    emit         text NOT NULL CHECK (emit IN ('none', 'requested', 'compensate')),
    order_change text NOT NULL CHECK (order_change IN ('none', 'paid', 'open')),
    PRIMARY KEY (status, stock, payment, input)
);
INSERT INTO saga_transitions VALUES
    ('pending', 'waiting', 'waiting', 'StockReserved', 'pending', 'taken', 'waiting', 'none', 'none'),
    ('pending', 'waiting', 'waiting', 'StockRejected', 'compensating', 'rejected', 'waiting', 'compensate', 'none'),
    ('pending', 'waiting', 'waiting', 'PaymentDebited', 'pending', 'waiting', 'taken', 'none', 'none'),
    ('pending', 'waiting', 'waiting', 'PaymentRejected', 'compensating', 'waiting', 'rejected', 'compensate', 'none'),
    ('pending', 'waiting', 'waiting', 'Deadline', 'compensating', 'waiting', 'waiting', 'compensate', 'none'),
    ('pending', 'waiting', 'taken', 'StockReserved', 'paid', 'taken', 'taken', 'none', 'paid'),
    ('pending', 'waiting', 'taken', 'StockRejected', 'compensating', 'rejected', 'taken', 'compensate', 'none'),
    ('pending', 'waiting', 'taken', 'PaymentRejected', 'compensating', 'waiting', 'taken', 'compensate', 'none'),
    ('pending', 'waiting', 'taken', 'Deadline', 'compensating', 'waiting', 'taken', 'compensate', 'none'),
    ('pending', 'waiting', 'rejected', 'StockReserved', 'pending', 'taken', 'rejected', 'none', 'none'),
    ('pending', 'waiting', 'rejected', 'StockRejected', 'compensating', 'rejected', 'rejected', 'compensate', 'none'),
    ('pending', 'waiting', 'rejected', 'PaymentRejected', 'compensating', 'waiting', 'rejected', 'compensate', 'none'),
    ('pending', 'waiting', 'rejected', 'Deadline', 'compensating', 'waiting', 'rejected', 'compensate', 'none'),
    ('pending', 'waiting', 'returned', 'StockReserved', 'pending', 'taken', 'returned', 'none', 'none'),
    ('pending', 'waiting', 'returned', 'StockRejected', 'compensating', 'rejected', 'returned', 'compensate', 'none'),
    ('pending', 'waiting', 'returned', 'PaymentRejected', 'compensating', 'waiting', 'returned', 'compensate', 'none'),
    ('pending', 'waiting', 'returned', 'Deadline', 'compensating', 'waiting', 'returned', 'compensate', 'none'),
    ('pending', 'taken', 'waiting', 'StockRejected', 'compensating', 'taken', 'waiting', 'compensate', 'none'),
    ('pending', 'taken', 'waiting', 'PaymentDebited', 'paid', 'taken', 'taken', 'none', 'paid'),
    ('pending', 'taken', 'waiting', 'PaymentRejected', 'compensating', 'taken', 'rejected', 'compensate', 'none'),
    ('pending', 'taken', 'waiting', 'Deadline', 'compensating', 'taken', 'waiting', 'compensate', 'none'),
    ('pending', 'taken', 'taken', 'StockReserved', 'paid', 'taken', 'taken', 'none', 'paid'),
    ('pending', 'taken', 'taken', 'StockRejected', 'compensating', 'taken', 'taken', 'compensate', 'none'),
    ('pending', 'taken', 'taken', 'PaymentDebited', 'paid', 'taken', 'taken', 'none', 'paid'),
    ('pending', 'taken', 'taken', 'PaymentRejected', 'compensating', 'taken', 'taken', 'compensate', 'none'),
    ('pending', 'taken', 'taken', 'StockReleased', 'paid', 'taken', 'taken', 'none', 'paid'),
    ('pending', 'taken', 'taken', 'PaymentRefunded', 'paid', 'taken', 'taken', 'none', 'paid'),
    ('pending', 'taken', 'taken', 'Deadline', 'compensating', 'taken', 'taken', 'compensate', 'none'),
    ('pending', 'taken', 'rejected', 'StockRejected', 'compensating', 'taken', 'rejected', 'compensate', 'none'),
    ('pending', 'taken', 'rejected', 'PaymentRejected', 'compensating', 'taken', 'rejected', 'compensate', 'none'),
    ('pending', 'taken', 'rejected', 'Deadline', 'compensating', 'taken', 'rejected', 'compensate', 'none'),
    ('pending', 'taken', 'returned', 'StockRejected', 'compensating', 'taken', 'returned', 'compensate', 'none'),
    ('pending', 'taken', 'returned', 'PaymentRejected', 'compensating', 'taken', 'returned', 'compensate', 'none'),
    ('pending', 'taken', 'returned', 'Deadline', 'compensating', 'taken', 'returned', 'compensate', 'none'),
    ('pending', 'rejected', 'waiting', 'StockRejected', 'compensating', 'rejected', 'waiting', 'compensate', 'none'),
    ('pending', 'rejected', 'waiting', 'PaymentDebited', 'pending', 'rejected', 'taken', 'none', 'none'),
    ('pending', 'rejected', 'waiting', 'PaymentRejected', 'compensating', 'rejected', 'rejected', 'compensate', 'none'),
    ('pending', 'rejected', 'waiting', 'Deadline', 'compensating', 'rejected', 'waiting', 'compensate', 'none'),
    ('pending', 'rejected', 'taken', 'StockRejected', 'compensating', 'rejected', 'taken', 'compensate', 'none'),
    ('pending', 'rejected', 'taken', 'PaymentRejected', 'compensating', 'rejected', 'taken', 'compensate', 'none'),
    ('pending', 'rejected', 'taken', 'Deadline', 'compensating', 'rejected', 'taken', 'compensate', 'none'),
    ('pending', 'rejected', 'rejected', 'StockRejected', 'compensating', 'rejected', 'rejected', 'compensate', 'none'),
    ('pending', 'rejected', 'rejected', 'PaymentRejected', 'compensating', 'rejected', 'rejected', 'compensate', 'none'),
    ('pending', 'rejected', 'rejected', 'Deadline', 'compensating', 'rejected', 'rejected', 'compensate', 'none'),
    ('pending', 'rejected', 'returned', 'StockRejected', 'compensating', 'rejected', 'returned', 'compensate', 'none'),
    ('pending', 'rejected', 'returned', 'PaymentRejected', 'compensating', 'rejected', 'returned', 'compensate', 'none'),
    ('pending', 'rejected', 'returned', 'Deadline', 'compensating', 'rejected', 'returned', 'compensate', 'none'),
    ('pending', 'returned', 'waiting', 'StockRejected', 'compensating', 'returned', 'waiting', 'compensate', 'none'),
    ('pending', 'returned', 'waiting', 'PaymentDebited', 'pending', 'returned', 'taken', 'none', 'none'),
    ('pending', 'returned', 'waiting', 'PaymentRejected', 'compensating', 'returned', 'rejected', 'compensate', 'none'),
    ('pending', 'returned', 'waiting', 'Deadline', 'compensating', 'returned', 'waiting', 'compensate', 'none'),
    ('pending', 'returned', 'taken', 'StockRejected', 'compensating', 'returned', 'taken', 'compensate', 'none'),
    ('pending', 'returned', 'taken', 'PaymentRejected', 'compensating', 'returned', 'taken', 'compensate', 'none'),
    ('pending', 'returned', 'taken', 'Deadline', 'compensating', 'returned', 'taken', 'compensate', 'none'),
    ('pending', 'returned', 'rejected', 'StockRejected', 'compensating', 'returned', 'rejected', 'compensate', 'none'),
    ('pending', 'returned', 'rejected', 'PaymentRejected', 'compensating', 'returned', 'rejected', 'compensate', 'none'),
    ('pending', 'returned', 'rejected', 'Deadline', 'compensating', 'returned', 'rejected', 'compensate', 'none'),
    ('pending', 'returned', 'returned', 'StockRejected', 'compensating', 'returned', 'returned', 'compensate', 'none'),
    ('pending', 'returned', 'returned', 'PaymentRejected', 'compensating', 'returned', 'returned', 'compensate', 'none'),
    ('pending', 'returned', 'returned', 'Deadline', 'compensating', 'returned', 'returned', 'compensate', 'none'),
    ('compensating', 'waiting', 'waiting', 'StockReserved', 'compensating', 'taken', 'waiting', 'none', 'none'),
    ('compensating', 'waiting', 'waiting', 'StockRejected', 'compensating', 'rejected', 'waiting', 'none', 'none'),
    ('compensating', 'waiting', 'waiting', 'PaymentDebited', 'compensating', 'waiting', 'taken', 'none', 'none'),
    ('compensating', 'waiting', 'waiting', 'PaymentRejected', 'compensating', 'waiting', 'rejected', 'none', 'none'),
    ('compensating', 'waiting', 'waiting', 'StockReleased', 'compensating', 'returned', 'waiting', 'none', 'none'),
    ('compensating', 'waiting', 'waiting', 'PaymentRefunded', 'compensating', 'waiting', 'returned', 'none', 'none'),
    ('compensating', 'waiting', 'taken', 'StockReserved', 'compensating', 'taken', 'taken', 'none', 'none'),
    ('compensating', 'waiting', 'taken', 'StockRejected', 'compensating', 'rejected', 'taken', 'none', 'none'),
    ('compensating', 'waiting', 'taken', 'StockReleased', 'compensating', 'returned', 'taken', 'none', 'none'),
    ('compensating', 'waiting', 'taken', 'PaymentRefunded', 'compensating', 'waiting', 'returned', 'none', 'none'),
    ('compensating', 'waiting', 'rejected', 'StockReserved', 'compensating', 'taken', 'rejected', 'none', 'none'),
    ('compensating', 'waiting', 'rejected', 'StockRejected', 'compensating', 'rejected', 'rejected', 'none', 'none'),
    ('compensating', 'waiting', 'rejected', 'PaymentRejected', 'compensating', 'waiting', 'rejected', 'compensate', 'none'),
    ('compensating', 'waiting', 'rejected', 'StockReleased', 'compensating', 'returned', 'rejected', 'none', 'none'),
    ('compensating', 'waiting', 'rejected', 'PaymentRefunded', 'compensating', 'waiting', 'returned', 'none', 'none'),
    ('compensating', 'waiting', 'returned', 'StockReserved', 'compensating', 'taken', 'returned', 'none', 'none'),
    ('compensating', 'waiting', 'returned', 'StockRejected', 'compensating', 'rejected', 'returned', 'none', 'none'),
    ('compensating', 'waiting', 'returned', 'StockReleased', 'failed', 'returned', 'returned', 'none', 'open'),
    ('compensating', 'taken', 'waiting', 'PaymentDebited', 'compensating', 'taken', 'taken', 'none', 'none'),
    ('compensating', 'taken', 'waiting', 'PaymentRejected', 'compensating', 'taken', 'rejected', 'none', 'none'),
    ('compensating', 'taken', 'waiting', 'StockReleased', 'compensating', 'returned', 'waiting', 'none', 'none'),
    ('compensating', 'taken', 'waiting', 'PaymentRefunded', 'compensating', 'taken', 'returned', 'none', 'none'),
    ('compensating', 'taken', 'taken', 'StockReleased', 'compensating', 'returned', 'taken', 'none', 'none'),
    ('compensating', 'taken', 'taken', 'PaymentRefunded', 'compensating', 'taken', 'returned', 'none', 'none'),
    ('compensating', 'taken', 'rejected', 'PaymentRejected', 'compensating', 'taken', 'rejected', 'compensate', 'none'),
    ('compensating', 'taken', 'rejected', 'StockReleased', 'compensating', 'returned', 'rejected', 'none', 'none'),
    ('compensating', 'taken', 'rejected', 'PaymentRefunded', 'compensating', 'taken', 'returned', 'none', 'none'),
    ('compensating', 'taken', 'returned', 'StockReleased', 'failed', 'returned', 'returned', 'none', 'open'),
    ('compensating', 'rejected', 'waiting', 'StockRejected', 'compensating', 'rejected', 'waiting', 'compensate', 'none'),
    ('compensating', 'rejected', 'waiting', 'PaymentDebited', 'compensating', 'rejected', 'taken', 'none', 'none'),
    ('compensating', 'rejected', 'waiting', 'PaymentRejected', 'compensating', 'rejected', 'rejected', 'none', 'none'),
    ('compensating', 'rejected', 'waiting', 'StockReleased', 'compensating', 'returned', 'waiting', 'none', 'none'),
    ('compensating', 'rejected', 'waiting', 'PaymentRefunded', 'compensating', 'rejected', 'returned', 'none', 'none'),
    ('compensating', 'rejected', 'taken', 'StockRejected', 'compensating', 'rejected', 'taken', 'compensate', 'none'),
    ('compensating', 'rejected', 'taken', 'StockReleased', 'compensating', 'returned', 'taken', 'none', 'none'),
    ('compensating', 'rejected', 'taken', 'PaymentRefunded', 'compensating', 'rejected', 'returned', 'none', 'none'),
    ('compensating', 'rejected', 'rejected', 'StockRejected', 'compensating', 'rejected', 'rejected', 'compensate', 'none'),
    ('compensating', 'rejected', 'rejected', 'PaymentRejected', 'compensating', 'rejected', 'rejected', 'compensate', 'none'),
    ('compensating', 'rejected', 'rejected', 'StockReleased', 'compensating', 'returned', 'rejected', 'none', 'none'),
    ('compensating', 'rejected', 'rejected', 'PaymentRefunded', 'compensating', 'rejected', 'returned', 'none', 'none'),
    ('compensating', 'rejected', 'returned', 'StockRejected', 'compensating', 'rejected', 'returned', 'compensate', 'none'),
    ('compensating', 'rejected', 'returned', 'StockReleased', 'failed', 'returned', 'returned', 'none', 'open'),
    ('compensating', 'returned', 'waiting', 'PaymentDebited', 'compensating', 'returned', 'taken', 'none', 'none'),
    ('compensating', 'returned', 'waiting', 'PaymentRejected', 'compensating', 'returned', 'rejected', 'none', 'none'),
    ('compensating', 'returned', 'waiting', 'PaymentRefunded', 'failed', 'returned', 'returned', 'none', 'open'),
    ('compensating', 'returned', 'taken', 'PaymentRefunded', 'failed', 'returned', 'returned', 'none', 'open'),
    ('compensating', 'returned', 'rejected', 'PaymentRejected', 'compensating', 'returned', 'rejected', 'compensate', 'none'),
    ('compensating', 'returned', 'rejected', 'PaymentRefunded', 'failed', 'returned', 'returned', 'none', 'open'),
    ('compensating', 'returned', 'returned', 'StockReserved', 'failed', 'returned', 'returned', 'none', 'open'),
    ('compensating', 'returned', 'returned', 'StockRejected', 'failed', 'returned', 'returned', 'none', 'open'),
    ('compensating', 'returned', 'returned', 'PaymentDebited', 'failed', 'returned', 'returned', 'none', 'open'),
    ('compensating', 'returned', 'returned', 'PaymentRejected', 'failed', 'returned', 'returned', 'none', 'open'),
    ('compensating', 'returned', 'returned', 'StockReleased', 'failed', 'returned', 'returned', 'none', 'open'),
    ('compensating', 'returned', 'returned', 'PaymentRefunded', 'failed', 'returned', 'returned', 'none', 'open'),
    ('compensating', 'returned', 'returned', 'Deadline', 'failed', 'returned', 'returned', 'none', 'open');

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
-- +goose StatementBegin
CREATE FUNCTION checkout_begin(p_order_id text, p_saga_id text)
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

-- saga_step feeds one input (a participant's reply, by its name in
-- saga/machine.go) to a saga under its row lock: it looks up the transition,
-- saves the new state, moves the order (paid, or open again), records why the
-- saga compensates, and announces a final state on the saga_outcome channel
-- when the transaction commits. No row: the saga does not exist. The emit is
-- returned even when nothing changed, since a redelivered input must yield
-- the same event.
-- +goose StatementBegin
CREATE FUNCTION saga_step(p_saga_id text, p_input text, p_reason text)
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

-- +goose Down
DROP FUNCTION saga_step(text, text, text);
DROP FUNCTION checkout_begin(text, text);
DROP TABLE saga_transitions;
ALTER TABLE orders RESET (fillfactor);
ALTER TABLE sagas RESET (fillfactor);
CREATE INDEX sagas_running_by_update ON sagas (updated_at) WHERE status IN ('pending', 'compensating');
