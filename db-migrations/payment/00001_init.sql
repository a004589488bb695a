-- +goose Up
-- Users and their credit; credit never goes negative.
CREATE TABLE users (
    id     text   PRIMARY KEY DEFAULT gen_random_uuid()::text
                  CHECK (octet_length(id) BETWEEN 1 AND 128),
    credit bigint NOT NULL DEFAULT 0 CHECK (credit >= 0)
);

-- Payments of the 2023 API form (pay/cancel/status per user and order). The
-- key makes a payment idempotent per (user, order); state records whether
-- it was refunded so a cancel refunds at most once.
CREATE TABLE order_payments (
    user_id  text   NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    order_id text   NOT NULL CHECK (octet_length(order_id) BETWEEN 1 AND 128),
    amount   bigint NOT NULL CHECK (amount >= 0),
    state    text   NOT NULL CHECK (state IN ('paid', 'cancelled')),
    PRIMARY KEY (user_id, order_id)
);

-- +goose Down
DROP TABLE order_payments;
DROP TABLE users;
