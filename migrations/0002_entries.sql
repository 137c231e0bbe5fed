-- +goose Up
-- Diary entries, their tags, their history and the idempotency keys of their creation.
--
-- What is ciphertext and what is plaintext metadata is written down in docs/privacy.md:
-- title_ct and content_ct (uce, sealed by the server with the user's master key) and
-- ciphertext (e2e, sealed by the client) are the only places entry text lives. Mood, tags,
-- source, times and sizes are plaintext metadata.

-- change_seq orders every write to an entry. A trigger draws it under a per-user advisory
-- lock held to commit, so one user's changes commit in change_seq order and the sync feed
-- can page on it without missing a change that commits late. Writers must call
-- entries_lock_user(user_id) before touching a user's entries (lock order: user, then
-- rows), or two writers can deadlock.
CREATE SEQUENCE entry_change_seq AS bigint;

CREATE TABLE entries (
    id            uuid PRIMARY KEY,
    user_id       uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- uce: title and content sealed under the user's master key (XChaCha20-Poly1305, the
    -- associated data binding user, entry, field and body_version).
    title_ct      bytea,
    content_ct    bytea,
    -- e2e: the client's envelope, stored verbatim.
    ciphertext    bytea,
    -- body_version is the entry version at which the body above was last written: the
    -- version bound into the uce associated data (delete and restore bump version without
    -- rewriting the body).
    body_version  integer NOT NULL,
    mood          text CHECK (char_length(mood) BETWEEN 1 AND 32),
    source        text NOT NULL DEFAULT 'app' CHECK (source ~ '^[a-z][a-z0-9_]{0,31}$'),
    occurred_at   timestamptz NOT NULL,
    created_at    timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL,
    deleted_at    timestamptz,
    version       integer NOT NULL DEFAULT 1 CHECK (version >= 1),
    change_seq    bigint NOT NULL,
    -- content_bytes is the stored size of the body (ciphertext octets), for quotas.
    content_bytes integer NOT NULL CHECK (content_bytes >= 0),
    CONSTRAINT entries_one_body CHECK (
        (content_ct IS NOT NULL AND ciphertext IS NULL)
        OR (content_ct IS NULL AND title_ct IS NULL AND ciphertext IS NOT NULL)
    ),
    CONSTRAINT entries_body_version CHECK (body_version BETWEEN 1 AND version)
);
-- The list: newest occurred_at first, keyset on (occurred_at, id).
CREATE INDEX entries_user_occurred_idx ON entries (user_id, occurred_at DESC, id DESC);
-- The sync feed: a user's changes in change_seq order.
CREATE UNIQUE INDEX entries_user_change_seq_key ON entries (user_id, change_seq);
-- The sync feed started from a time (updated_since=<RFC 3339>).
CREATE INDEX entries_user_updated_idx ON entries (user_id, updated_at);
-- The 30-day purge of soft-deleted entries.
CREATE INDEX entries_deleted_at_idx ON entries (deleted_at) WHERE deleted_at IS NOT NULL;

-- entries_lock_user serialises one user's entry writes: every transaction that writes
-- entries calls it first (SELECT entries_lock_user($1)). It returns the write's timestamp,
-- read after the lock so a user's updated_at never goes backwards.
-- +goose StatementBegin
CREATE FUNCTION entries_lock_user(p_user_id uuid) RETURNS timestamptz
LANGUAGE sql VOLATILE AS $$
    SELECT pg_advisory_xact_lock(1701, hashtext(p_user_id::text));
    SELECT clock_timestamp();
$$;
-- +goose StatementEnd

-- Every insert or update of an entry draws a new change_seq under its user's lock (taken
-- again here, a no-op for a writer that already holds it), so no writer can break the
-- feed's ordering, whatever SQL it runs.
-- +goose StatementBegin
CREATE FUNCTION entries_assign_change_seq() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(1701, hashtext(NEW.user_id::text));
    NEW.change_seq := nextval('entry_change_seq');
    RETURN NEW;
END;
$$;
-- +goose StatementEnd

CREATE TRIGGER entries_change_seq BEFORE INSERT OR UPDATE ON entries
    FOR EACH ROW EXECUTE FUNCTION entries_assign_change_seq();

-- Tags are per user, normalised (trimmed, lower-cased) and plaintext metadata.
CREATE TABLE tags (
    id         uuid PRIMARY KEY,
    user_id    uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name       text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 64),
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT tags_user_name_key UNIQUE (user_id, name)
);

CREATE TABLE entry_tags (
    entry_id uuid NOT NULL REFERENCES entries (id) ON DELETE CASCADE,
    tag_id   uuid NOT NULL REFERENCES tags (id) ON DELETE CASCADE,
    PRIMARY KEY (entry_id, tag_id)
);
-- Filtering entries by tag, and finding a tag's remaining uses.
CREATE INDEX entry_tags_tag_idx ON entry_tags (tag_id, entry_id);

-- One audit row per change, written in the transaction of the change. The version is the
-- entry's version after the change, so (entry_id, version) is unique and orders history.
CREATE TABLE entry_events (
    entry_id   uuid NOT NULL REFERENCES entries (id) ON DELETE CASCADE,
    user_id    uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    event_type text NOT NULL CHECK (event_type IN ('created', 'updated', 'deleted', 'restored')),
    version    integer NOT NULL CHECK (version >= 1),
    at         timestamptz NOT NULL,
    PRIMARY KEY (entry_id, version)
);

-- Idempotency-Key of a create: the key is stored only as a SHA-256 hash, the request as a
-- hash keyed per user (uce: by a key derived from the master key, so it is no unkeyed
-- derivative of entry text). Honoured for 24 hours; older rows may be purged.
CREATE TABLE entry_idempotency (
    user_id      uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    key_hash     bytea NOT NULL CHECK (octet_length(key_hash) = 32),
    request_hash bytea NOT NULL CHECK (octet_length(request_hash) = 32),
    entry_id     uuid NOT NULL REFERENCES entries (id) ON DELETE CASCADE,
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, key_hash)
);
CREATE INDEX entry_idempotency_created_at_idx ON entry_idempotency (created_at);

-- +goose Down
DROP TABLE entry_idempotency;
DROP TABLE entry_events;
DROP TABLE entry_tags;
DROP TABLE tags;
DROP TABLE entries;
DROP FUNCTION entries_assign_change_seq();
DROP FUNCTION entries_lock_user(uuid);
DROP SEQUENCE entry_change_seq;
