-- +goose Up
-- Checkout sagas, in the order database so that a saga's state and its
-- order's status change in one local transaction. items and total_cost are
-- the order as it was when the checkout began (the order is locked against
-- edits meanwhile, but the snapshot keeps the saga self-contained). No
-- foreign key to orders: a saga row is the record of what was taken and must
-- outlive the order it belonged to.
CREATE TABLE sagas (
    id         text        PRIMARY KEY CHECK (octet_length(id) BETWEEN 1 AND 128),
    order_id   text        NOT NULL,
    user_id    text        NOT NULL,
    items      jsonb       NOT NULL,
    total_cost bigint      NOT NULL CHECK (total_cost >= 0),
    status     text        NOT NULL DEFAULT 'pending'
                           CHECK (status IN ('pending', 'compensating', 'paid', 'failed')),
    stock      text        NOT NULL DEFAULT 'waiting'
                           CHECK (stock IN ('waiting', 'taken', 'rejected', 'returned')),
    payment    text        NOT NULL DEFAULT 'waiting'
                           CHECK (payment IN ('waiting', 'taken', 'rejected', 'returned')),
    reason     text,
    -- how often the recovery sweep re-sent what the saga waits for
    attempts   integer     NOT NULL DEFAULT 0,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    decided_at timestamptz
);

-- At most one running saga per order: concurrent checkouts join it.
CREATE UNIQUE INDEX sagas_one_active_per_order ON sagas (order_id)
    WHERE status IN ('pending', 'compensating');

-- The recovery sweep looks for running sagas that have not moved lately.
CREATE INDEX sagas_running_by_update ON sagas (updated_at)
    WHERE status IN ('pending', 'compensating');

-- +goose Down
DROP TABLE sagas;
