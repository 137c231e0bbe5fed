-- +goose Up
-- Background jobs, and the event ids consumers have handled. See docs/events.md.

-- A job is background work a client can follow with GET /api/v1/jobs/{id}. Whoever starts
-- the work inserts the row (status queued or running) and moves it to succeeded or failed.
-- A job with a user_id belongs to that user, who alone may read it; a job without one is
-- a system job (a whole cleanup run) that no user sees. A system run that touches several
-- users' data records each user's share as a child job (parent_id = the run), so every user
-- can see what the run did to their own data and nothing of anyone else's.
CREATE TABLE jobs (
    id          uuid PRIMARY KEY,
    user_id     uuid REFERENCES users (id) ON DELETE CASCADE,
    parent_id   uuid REFERENCES jobs (id) ON DELETE CASCADE,
    kind        text NOT NULL CHECK (kind ~ '^[a-z][a-z0-9_]{0,31}$'),
    status      text NOT NULL DEFAULT 'queued'
                CHECK (status IN ('queued', 'running', 'succeeded', 'failed')),
    -- Percent done, 0 to 100.
    progress    smallint NOT NULL DEFAULT 0 CHECK (progress BETWEEN 0 AND 100),
    -- What went wrong, in words fit for the user: never internal error text.
    error       text CHECK (char_length(error) BETWEEN 1 AND 500),
    -- Counts and ids the job produced (e.g. {"entries_purged": 2}); never user content.
    result      jsonb NOT NULL DEFAULT '{}'::jsonb CHECK (jsonb_typeof(result) = 'object'),
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    started_at  timestamptz,
    finished_at timestamptz,
    CONSTRAINT jobs_finished CHECK ((status IN ('succeeded', 'failed')) = (finished_at IS NOT NULL)),
    CONSTRAINT jobs_error_on_failure CHECK (error IS NULL OR status = 'failed'),
    CONSTRAINT jobs_child_of_system_run CHECK (parent_id IS NULL OR user_id IS NOT NULL)
);
-- A user's jobs, newest first (GET /api/v1/jobs), keyset on (created_at, id).
CREATE INDEX jobs_user_created_idx ON jobs (user_id, created_at DESC, id DESC) WHERE user_id IS NOT NULL;
-- The children of a run, to finish or fail them with it.
CREATE INDEX jobs_parent_idx ON jobs (parent_id) WHERE parent_id IS NOT NULL;
-- The janitor's purge of old finished jobs.
CREATE INDEX jobs_finished_at_idx ON jobs (finished_at) WHERE finished_at IS NOT NULL;

-- Delivery is at least once: a consumer records the id of each event it has fully handled,
-- in the transaction of its last write, and acknowledges a second delivery of the same id
-- without acting on it. Rows are kept far longer than the Broker ever retries (seconds to
-- minutes), then purged by the janitor.
CREATE TABLE processed_events (
    consumer     text NOT NULL CHECK (consumer ~ '^[a-z][a-z0-9-]{0,62}$'),
    event_id     text NOT NULL CHECK (char_length(event_id) BETWEEN 1 AND 256),
    event_type   text NOT NULL CHECK (char_length(event_type) BETWEEN 1 AND 256),
    processed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, event_id)
);
CREATE INDEX processed_events_processed_at_idx ON processed_events (processed_at);

-- +goose Down
DROP TABLE processed_events;
DROP TABLE jobs;
