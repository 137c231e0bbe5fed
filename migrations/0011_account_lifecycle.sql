-- +goose Up
-- Account lifecycle (issue 12): deletion marks the user and erases its key material at
-- once (crypto-shredding), the purge consumer removes the rest; e2e clients keep an opaque
-- key backup.

-- users.deleted_at: set by DELETE /api/v1/auth/me in the transaction that erases the
-- password hash's use, the uce wrapped keys and every recovery code. From then on nobody
-- can log in as the user or unwrap its master key; functions/purge removes the row, and
-- by cascade every row of the user, afterwards. A deleted user keeps no key material, of
-- either tier, so the uce key constraint now holds for live users only.
ALTER TABLE users ADD COLUMN deleted_at timestamptz;
ALTER TABLE users DROP CONSTRAINT users_uce_keys;
ALTER TABLE users ADD CONSTRAINT users_uce_keys CHECK (
    CASE
        WHEN deleted_at IS NOT NULL THEN
            kdf_salt IS NULL AND wrapped_master_key IS NULL AND wrapped_private_key IS NULL
        ELSE
            (encryption_tier = 'uce') = (kdf_salt IS NOT NULL AND wrapped_master_key IS NOT NULL AND wrapped_private_key IS NOT NULL)
    END
);
-- The email is free for a new signup as soon as the account is deleted, while the purge
-- still runs.
DROP INDEX users_email_key;
CREATE UNIQUE INDEX users_email_key ON users (lower(email)) WHERE deleted_at IS NULL;
-- The users being purged (or whose purge was cut short), for operators and sweeps.
CREATE INDEX users_deleted_at_idx ON users (deleted_at) WHERE deleted_at IS NOT NULL;

-- key_backups: an e2e client's own backup of its keys, encrypted on the client under a key
-- the server never sees (PUT/GET /api/v1/auth/key-backup). One per user, replaced on each
-- PUT; erased with the account's other key material at deletion.
CREATE TABLE key_backups (
    user_id    uuid PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    ciphertext bytea NOT NULL CHECK (octet_length(ciphertext) BETWEEN 1 AND 65536),
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- +goose Down
DROP TABLE key_backups;
DROP INDEX users_deleted_at_idx;
DROP INDEX users_email_key;
DELETE FROM users WHERE deleted_at IS NOT NULL;
CREATE UNIQUE INDEX users_email_key ON users (lower(email));
ALTER TABLE users DROP CONSTRAINT users_uce_keys;
ALTER TABLE users ADD CONSTRAINT users_uce_keys CHECK (
    (encryption_tier = 'uce') = (kdf_salt IS NOT NULL AND wrapped_master_key IS NOT NULL AND wrapped_private_key IS NOT NULL)
);
ALTER TABLE users DROP COLUMN deleted_at;
