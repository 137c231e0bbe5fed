-- +goose Up
-- The outbox (eventing/outbox): every event a change produces is written here in the
-- change's own transaction, and relayed to the Broker (K_SINK) after the commit by the
-- producing function's relay, or by the janitor's sweep when that function has scaled to
-- zero. The row's id and time are the CloudEvent's id and time, so a row sent twice (a
-- relay that died after the send, before marking it) carries the same id and consumers'
-- dedupe holds. Data are ids only, like every event's (docs/events.md).
CREATE TABLE outbox (
    id              uuid PRIMARY KEY,
    -- The order of rows: a user's rows are sent in seq order, each only once every
    -- earlier row of the user is delivered (docs/events.md, Delivery).
    seq             bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
    -- Whose change produced the event. A purge deletes the users row last, after it has
    -- consumed account.deleted, and the user's rows go with it: an event of a user who no
    -- longer exists has nothing left to act on (every consumer acknowledges an event for
    -- a missing user), and the relay holds no lock while it sends, so the delete never
    -- waits for a send.
    user_id         uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    type            text NOT NULL CHECK (char_length(type) BETWEEN 1 AND 200),
    source          text NOT NULL CHECK (char_length(source) BETWEEN 1 AND 200),
    subject         text NOT NULL DEFAULT '' CHECK (char_length(subject) <= 200),
    time            timestamptz NOT NULL DEFAULT now(),
    data            jsonb NOT NULL,
    -- Failed sends so far; the next try waits an exponential backoff from the last one.
    attempts        integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    -- When the row may be sent (again): now() when written, the backoff after a failure,
    -- and the end of a relay's lease while one is sending it.
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    -- Why the last send failed (a status or a transport error, never the data).
    last_error      text CHECK (char_length(last_error) <= 500),
    delivered_at    timestamptz
);
-- The relay: each user's earliest undelivered row.
CREATE INDEX outbox_pending_user_seq_idx ON outbox (user_id, seq) WHERE delivered_at IS NULL;
-- The janitor: delivered rows past OUTBOX_RETENTION.
CREATE INDEX outbox_delivered_at_idx ON outbox (delivered_at) WHERE delivered_at IS NOT NULL;

-- +goose Down
DROP TABLE outbox;
