-- +goose Up
-- Users and their wrapped keys. Nothing here is secret in the clear: the password is a
-- bcrypt hash, and for uce users the master key and X25519 private key are stored only
-- wrapped (XChaCha20-Poly1305) under keys the server cannot derive without the password
-- or a recovery code.
CREATE TABLE users (
    id                  uuid PRIMARY KEY,
    email               text NOT NULL,
    password_hash       text NOT NULL,
    encryption_tier     text NOT NULL CHECK (encryption_tier IN ('e2e', 'uce')),
    public_key          bytea NOT NULL CHECK (octet_length(public_key) = 32),
    -- uce only: Argon2id salt, master key wrapped by Argon2id(password), X25519 private
    -- key wrapped by the master key.
    kdf_salt            bytea,
    wrapped_master_key  bytea,
    wrapped_private_key bytea,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT users_uce_keys CHECK (
        (encryption_tier = 'uce') = (kdf_salt IS NOT NULL AND wrapped_master_key IS NOT NULL AND wrapped_private_key IS NOT NULL)
    )
);
CREATE UNIQUE INDEX users_email_key ON users (lower(email));

-- Recovery codes are stored only as hashes and work once. For uce users each code also
-- wraps the master key, so a code can restore access without the password.
CREATE TABLE recovery_codes (
    id                 uuid PRIMARY KEY,
    user_id            uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    code_hash          bytea NOT NULL,
    salt               bytea,
    wrapped_master_key bytea,
    used_at            timestamptz,
    created_at         timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX recovery_codes_user_hash_key ON recovery_codes (user_id, code_hash);

-- +goose Down
DROP TABLE recovery_codes;
DROP TABLE users;
