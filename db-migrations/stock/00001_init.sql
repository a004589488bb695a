-- +goose Up
-- Items for sale. The invariants live here, not only in code: stock and price
-- never go negative whatever a handler does, and IDs stay within the API's
-- limits (create uses UUIDs, batch_init the strings "0".."n-1").
CREATE TABLE items (
    id    text   PRIMARY KEY DEFAULT gen_random_uuid()::text
                 CHECK (octet_length(id) BETWEEN 1 AND 128),
    stock bigint NOT NULL DEFAULT 0 CHECK (stock >= 0),
    price bigint NOT NULL CHECK (price >= 0)
);

-- +goose Down
DROP TABLE items;
