-- +goose Up
-- The checkout saga's ledger in the payment database: one row per saga that
-- reached payment, written in the same transaction as the credit change it
-- records, so debit and refund happen at most once per saga.
--   debited   - amount was taken from user_id's credit
--   rejected  - nothing was taken: unknown user or not enough credit
--   refunded  - amount was taken and then given back
--   tombstone - the compensation came before the debit: nothing was taken,
--               and a late debit is refused
CREATE TABLE payment_ledger (
    saga_id    text        PRIMARY KEY CHECK (octet_length(saga_id) BETWEEN 1 AND 128),
    order_id   text        NOT NULL,
    user_id    text        NOT NULL,
    state      text        NOT NULL CHECK (state IN ('debited', 'rejected', 'refunded', 'tombstone')),
    amount     bigint      NOT NULL DEFAULT 0 CHECK (amount >= 0),
    reason     text,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- +goose Down
DROP TABLE payment_ledger;
