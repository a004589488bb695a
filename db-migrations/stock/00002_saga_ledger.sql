-- +goose Up
-- The checkout saga's ledger in the stock database: one row per saga that
-- reached stock, written in the same transaction as the stock change it
-- records. The primary key makes reserve and release happen at most once per
-- saga whatever the broker redelivers; replies are recomputed from the row.
--   reserved  - items were taken (items says what)
--   rejected  - nothing was taken: an item was unknown or short
--   released  - items were taken and then given back
--   tombstone - the compensation came before the reservation: nothing was
--               taken, and a late reservation is refused
CREATE TABLE stock_ledger (
    saga_id    text        PRIMARY KEY CHECK (octet_length(saga_id) BETWEEN 1 AND 128),
    order_id   text        NOT NULL,
    state      text        NOT NULL CHECK (state IN ('reserved', 'rejected', 'released', 'tombstone')),
    items      jsonb       NOT NULL DEFAULT '[]'::jsonb,
    reason     text,
    item_id    text,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- +goose Down
DROP TABLE stock_ledger;
