-- +goose Up
-- Media rows share objects, and pending uploads count until they are gone (docs/media.md).
--
-- A media row is one attachment: uploading bytes the user already stores, for another
-- entry, adds a ready row for that entry pointing at the same object_key instead of a
-- second copy of the bytes. So object_key is no longer unique; the object is removed by
-- the janitor only when no row references it any more, and the quota counts each object
-- once (per distinct object_key among the user's undeleted rows).
ALTER TABLE media DROP CONSTRAINT media_object_key_key;
-- The janitor's "does any other row still need this object?" check, over deleted rows too.
CREATE INDEX media_object_key_idx ON media (object_key);
-- One live row per object and entry: a second dedup for the same entry finds the first
-- (the upload takes the user's media lock; this makes a slip loud rather than a duplicate).
-- Rows without an entry (NULL) are not constrained.
CREATE UNIQUE INDEX media_object_entry_key ON media (object_key, entry_id) WHERE deleted_at IS NULL;

-- A row made by deduplication never had an upload URL of its own: upload_expires_at is
-- NULL there. A pending row always has one.
ALTER TABLE media ALTER COLUMN upload_expires_at DROP NOT NULL;
ALTER TABLE media ADD CONSTRAINT media_pending_upload_expires
    CHECK (status <> 'pending' OR upload_expires_at IS NOT NULL);

-- Quota (media's usedBytes, auth's /features): every undeleted row, ready or pending, each
-- object once. A pending upload counts until it is completed or removed, not only while
-- its URL works: its bytes may sit in S3 until the janitor removes them.
DROP INDEX media_user_usage_idx;
CREATE INDEX media_user_usage_idx ON media (user_id, object_key) INCLUDE (size_bytes)
    WHERE deleted_at IS NULL;

-- Janitor: pending uploads whose URL expired longer ago than PENDING_UPLOAD_TTL.
DROP INDEX media_status_created_idx;
CREATE INDEX media_pending_expires_idx ON media (upload_expires_at)
    WHERE status = 'pending' AND deleted_at IS NULL;

-- +goose Down
-- Fails while two rows share an object (delete the later rows of each object_key first).
DROP INDEX media_pending_expires_idx;
CREATE INDEX media_status_created_idx ON media (status, created_at);
DROP INDEX media_user_usage_idx;
CREATE INDEX media_user_usage_idx ON media (user_id, status, upload_expires_at) INCLUDE (size_bytes)
    WHERE deleted_at IS NULL;
ALTER TABLE media DROP CONSTRAINT media_pending_upload_expires;
UPDATE media SET upload_expires_at = created_at WHERE upload_expires_at IS NULL;
ALTER TABLE media ALTER COLUMN upload_expires_at SET NOT NULL;
DROP INDEX media_object_entry_key;
DROP INDEX media_object_key_idx;
ALTER TABLE media ADD CONSTRAINT media_object_key_key UNIQUE (object_key);
