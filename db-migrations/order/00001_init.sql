-- +goose Up
-- Orders. status moves open -> checking_out -> paid (or back to open when a
-- checkout fails); only open orders accept item changes or removal.
CREATE TABLE orders (
    id         text   PRIMARY KEY DEFAULT gen_random_uuid()::text
                      CHECK (octet_length(id) BETWEEN 1 AND 128),
    user_id    text   NOT NULL CHECK (octet_length(user_id) BETWEEN 1 AND 128),
    status     text   NOT NULL DEFAULT 'open'
                      CHECK (status IN ('open', 'checking_out', 'paid')),
    total_cost bigint NOT NULL DEFAULT 0 CHECK (total_cost >= 0)
);

-- One row per distinct item in an order. unit_price is the price read from
-- stock when the item was added, so removing a unit lowers total_cost by
-- what adding it raised it by.
-- No foreign key to orders, on purpose: its per-row check (a FOR KEY SHARE
-- lock on the order) doubled the time of batch_init's 200,000 lines. Lines
-- are only written under their order's row lock or in the statement that
-- writes the order, and deleted in the statement that deletes it.
CREATE TABLE order_items (
    order_id   text   NOT NULL,
    item_id    text   NOT NULL CHECK (octet_length(item_id) BETWEEN 1 AND 128),
    quantity   bigint NOT NULL CHECK (quantity > 0),
    unit_price bigint NOT NULL CHECK (unit_price >= 0),
    PRIMARY KEY (order_id, item_id)
);

-- +goose Down
DROP TABLE order_items;
DROP TABLE orders;
