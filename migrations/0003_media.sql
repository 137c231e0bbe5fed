-- +goose Up
-- Media: one row per photo, recording or document a user uploads. The bytes live in S3
-- under object_key (u/<user id>/<media id>, never anything the user typed); the row holds
-- what the server knows about them. See docs/media.md.
--
-- Plaintext metadata: content_type, size_bytes, sha256, status, entry_id and the times.
-- The filename is not stored in the clear for uce users: filename_ct is sealed
-- (XChaCha20-Poly1305) under the user's master key, the associated data binding user,
-- media id and purpose. For e2e users filename_ct holds the client's string as sent
-- (clients encrypt it themselves; the server cannot).
CREATE TABLE media (
    id                uuid PRIMARY KEY,
    user_id           uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- The entry the media is attached to; a purged entry leaves the media unattached.
    entry_id          uuid REFERENCES entries (id) ON DELETE SET NULL,
    object_key        text NOT NULL,
    filename_ct       bytea NOT NULL CHECK (octet_length(filename_ct) BETWEEN 1 AND 2048),
    content_type      text NOT NULL CHECK (content_type ~ '^[a-z]+/[a-z0-9.+-]+$'),
    -- 1 byte to 50 MiB, as declared by the client and checked by S3 (the presigned PUT
    -- binds the length) and by complete (HEAD).
    size_bytes        bigint NOT NULL CHECK (size_bytes BETWEEN 1 AND 52428800),
    sha256            bytea NOT NULL CHECK (octet_length(sha256) = 32),
    -- pending: the upload URL was handed out; ready: the object was found in S3 with the
    -- declared size. Only ready media count as storage in use (auth's /features sums
    -- size_bytes of ready, undeleted rows).
    status            text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'ready')),
    created_at        timestamptz NOT NULL DEFAULT now(),
    -- When the presigned PUT stops working; a pending row counts against the quota until
    -- then, so a user cannot ask for many uploads at once to pass it.
    upload_expires_at timestamptz NOT NULL,
    completed_at      timestamptz,
    -- Soft delete: the row disappears from the API at once; the janitor removes the object
    -- and then the row.
    deleted_at        timestamptz,
    CONSTRAINT media_object_key_key UNIQUE (object_key),
    CONSTRAINT media_ready_completed CHECK ((status = 'ready') = (completed_at IS NOT NULL))
);

-- The list, newest first, keyset on (created_at, id); and the same within one entry.
CREATE INDEX media_user_created_idx ON media (user_id, created_at DESC, id DESC)
    WHERE deleted_at IS NULL;
CREATE INDEX media_user_entry_created_idx ON media (user_id, entry_id, created_at DESC, id DESC)
    WHERE deleted_at IS NULL AND entry_id IS NOT NULL;
-- Deduplication: a user's ready media with the same SHA-256.
CREATE INDEX media_user_sha256_idx ON media (user_id, sha256)
    WHERE status = 'ready' AND deleted_at IS NULL;
-- Quota: a user's ready and still-uploadable pending bytes.
CREATE INDEX media_user_usage_idx ON media (user_id, status, upload_expires_at) INCLUDE (size_bytes)
    WHERE deleted_at IS NULL;
-- Cleanup (janitor): abandoned pending uploads by age, and soft-deleted rows by time.
CREATE INDEX media_status_created_idx ON media (status, created_at);
CREATE INDEX media_deleted_at_idx ON media (deleted_at) WHERE deleted_at IS NOT NULL;
-- entry_id's foreign key: purging an entry finds its media without a scan.
CREATE INDEX media_entry_idx ON media (entry_id) WHERE entry_id IS NOT NULL;

-- +goose Down
DROP TABLE media;
