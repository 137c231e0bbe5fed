-- +goose Up
-- Imports: a zip a user uploads (their own diary export, or a Day One journal) and the
-- import consumer turns into entries and media. Owned by the archive function (the HTTP
-- side) and the importer (the consumer), see docs/architecture.md. No entry text, title
-- or file name is stored here: errors name items of the zip (a path, an index, a source
-- id), never their content.
CREATE TABLE imports (
    id                uuid PRIMARY KEY,
    user_id           uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    format            text NOT NULL CHECK (format IN ('diary', 'dayone')),
    -- awaiting_upload: the presigned PUT was handed out; queued: start was called and the
    -- event emitted; running, succeeded, failed: as the job.
    status            text NOT NULL DEFAULT 'awaiting_upload'
                      CHECK (status IN ('awaiting_upload', 'queued', 'running', 'succeeded', 'failed')),
    -- The zip as declared (and bound into the presigned PUT): 1 byte to 2 GiB.
    size_bytes        bigint NOT NULL CHECK (size_bytes BETWEEN 1 AND 2147483648),
    sha256            bytea NOT NULL CHECK (octet_length(sha256) = 32),
    -- The staging object, under the user's prefix (u/<user id>/imports/<import id>.zip);
    -- NULL once removed (the import ended, or the janitor removed an abandoned upload).
    staging_key       text,
    upload_expires_at timestamptz NOT NULL,
    job_id            uuid REFERENCES jobs (id) ON DELETE SET NULL,
    entries_created   integer NOT NULL DEFAULT 0 CHECK (entries_created >= 0),
    media_created     integer NOT NULL DEFAULT 0 CHECK (media_created >= 0),
    skipped           integer NOT NULL DEFAULT 0 CHECK (skipped >= 0),
    -- [{"item": "...", "message": "..."}], at most a few hundred (the importer caps them).
    errors            jsonb NOT NULL DEFAULT '[]'::jsonb CHECK (jsonb_typeof(errors) = 'array'),
    -- Why a failed import failed, in words for the user.
    failure           text CHECK (char_length(failure) BETWEEN 1 AND 500),
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    finished_at       timestamptz,
    CONSTRAINT imports_finished CHECK ((status IN ('succeeded', 'failed')) = (finished_at IS NOT NULL)),
    CONSTRAINT imports_failure_on_failed CHECK (failure IS NULL OR status = 'failed')
);
-- GET /api/v1/imports: a user's imports, newest first, keyset on (created_at, id).
CREATE INDEX imports_user_created_idx ON imports (user_id, created_at DESC, id DESC);
-- The janitor: uploads never started, whose URL expired long ago.
CREATE INDEX imports_awaiting_expires_idx ON imports (upload_expires_at)
    WHERE status = 'awaiting_upload' AND staging_key IS NOT NULL;

-- What an import has created, by the source's own id (the export's entry or media id, Day
-- One's entry uuid or photo identifier), so the same file imported twice creates nothing
-- the second time and a redelivered event continues where the first attempt stopped.
-- target_id is the entry or media made from it (not a foreign key: a media of a uce
-- import waits in import_media until it is finalised).
CREATE TABLE import_items (
    user_id    uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind       text NOT NULL CHECK (kind IN ('entry', 'media')),
    source     text NOT NULL CHECK (source IN ('diary', 'dayone')),
    source_id  text NOT NULL CHECK (char_length(source_id) BETWEEN 1 AND 128),
    import_id  uuid NOT NULL REFERENCES imports (id) ON DELETE CASCADE,
    target_id  uuid NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, kind, source, source_id)
);
CREATE INDEX import_items_import_idx ON import_items (import_id);

-- A uce import's media waiting for their media row. The importer holds no master key, and
-- a uce media row's filename is sealed under it (migration 0003), so the importer copies
-- the bytes to the media's own object and parks the row here; the archive function writes
-- the media row (through shared/mediarow) on the user's next request to /api/v1/imports
-- or /api/v1/export, which holds the key. The file name waits sealed to the user's X25519
-- public key (shared/intake), never in the clear.
CREATE TABLE import_media (
    id            uuid PRIMARY KEY,
    user_id       uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    import_id     uuid NOT NULL REFERENCES imports (id) ON DELETE CASCADE,
    entry_id      uuid REFERENCES entries (id) ON DELETE SET NULL,
    object_key    text NOT NULL,
    filename_box  bytea NOT NULL CHECK (octet_length(filename_box) BETWEEN 1 AND 4096),
    content_type  text NOT NULL CHECK (content_type ~ '^[a-z]+/[a-z0-9.+-]+$'),
    size_bytes    bigint NOT NULL CHECK (size_bytes BETWEEN 1 AND 52428800),
    sha256        bytea NOT NULL CHECK (octet_length(sha256) = 32),
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX import_media_user_idx ON import_media (user_id, created_at, id);

-- +goose Down
DROP TABLE import_media;
DROP TABLE import_items;
DROP TABLE imports;
