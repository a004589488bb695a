-- +goose Up
-- Events the broker gave up on (each Trigger's deadLetterSink is the
-- dead-letter operation), kept so that an operator can see why a delivery
-- failed and replay the event once the fault is fixed (cmd/shopctl). In the
-- order database, but written by a process of its own: nothing on the
-- checkout path touches this table.
--
-- One row per (event, Trigger): a checkout.requested fans out to two
-- Triggers and may fail on both. The same failure delivered again (the
-- broker's at-least-once delivery, a sweep re-send with the same event id)
-- is the same row.
CREATE TABLE dead_letters (
    id           bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_id     text        NOT NULL,
    source       text        NOT NULL,
    type         text        NOT NULL,
    subject      text,
    -- the Trigger it failed on (from the deadLetterSink uri), '' if unknown
    trigger      text        NOT NULL DEFAULT '',
    -- the knativeerror* extensions: the subscriber, its last status (0: no
    -- response) and the start of its answer (decoded from base64)
    error_dest   text,
    error_code   integer,
    error_data   text,
    -- the whole event (structured JSON, extensions included): what a replay sends
    event        jsonb       NOT NULL,
    received_at  timestamptz NOT NULL DEFAULT now(),
    replayed_at  timestamptz,
    replays      integer     NOT NULL DEFAULT 0,
    UNIQUE (event_id, source, trigger)
);

-- Retention prunes by age; listing shows the newest first.
CREATE INDEX dead_letters_by_received ON dead_letters (received_at);

-- +goose Down
DROP TABLE dead_letters;
