-- +goose Up
-- Integrations with outside services (Facebook today): the connected accounts, the posts
-- already imported from them, the entries pushed to them, and the data deletion requests
-- Facebook sends. See functions/integrations and functions/fbsync.
--
-- Nothing secret is stored in the clear: the provider's access token is sealed under
-- INTEGRATION_TOKEN_KEY (XChaCha20-Poly1305, the associated data binding the user, the
-- integration and the token's purpose), and no post text is stored here at all: imported
-- posts become entries sealed to the user's public key (shared/intake).

-- One row per connected account. Disconnecting deletes the row, and the token with it.
CREATE TABLE integrations (
    id                  uuid PRIMARY KEY,
    user_id             uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    provider            text NOT NULL CHECK (provider IN ('facebook')),
    -- The provider's id of the account (Facebook's app-scoped user id) and its name.
    external_account_id text NOT NULL CHECK (char_length(external_account_id) BETWEEN 1 AND 128),
    display_name        text NOT NULL CHECK (char_length(display_name) <= 256),
    -- active: synced hourly; needs_reauth: the provider refused the token (expired or
    -- revoked), nothing is synced until the user connects again.
    status              text NOT NULL CHECK (status IN ('active', 'needs_reauth')),
    -- The long-lived user access token, sealed (crypto envelope, purpose
    -- integration.<provider>.user_token).
    access_token_ct     bytea NOT NULL,
    token_expires_at    timestamptz,
    -- The creation time of the newest post imported so far: the next sync asks for posts
    -- since then (less an overlap the dedupe below absorbs).
    sync_cursor         timestamptz,
    -- The provider asked us to slow down: no sync before this time.
    sync_not_before     timestamptz,
    -- The pull the user asked for and the sync has not finished yet (one at a time).
    pending_job_id      uuid REFERENCES jobs (id) ON DELETE SET NULL,
    connected_at        timestamptz NOT NULL,
    last_synced_at      timestamptz,
    updated_at          timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT integrations_account_key UNIQUE (user_id, provider, external_account_id)
);
-- The hourly sync's sweep over the active integrations.
CREATE INDEX integrations_active_idx ON integrations (provider, id) WHERE status = 'active';
-- The data deletion callback finds a provider account's rows.
CREATE INDEX integrations_external_idx ON integrations (provider, external_account_id);

-- The posts already imported, keyed by the account they came from (not the integration
-- row), so disconnecting and connecting the same account again imports nothing twice. A
-- row holds ids only. entry_id goes NULL when the entry is purged: the post stays known,
-- so an entry the user deleted does not come back.
CREATE TABLE integration_imports (
    user_id             uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    provider            text NOT NULL CHECK (provider IN ('facebook')),
    external_account_id text NOT NULL,
    external_post_id    text NOT NULL CHECK (char_length(external_post_id) BETWEEN 1 AND 256),
    entry_id            uuid REFERENCES entries (id) ON DELETE SET NULL,
    imported_at         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, provider, external_account_id, external_post_id)
);
CREATE INDEX integration_imports_external_idx ON integration_imports (provider, external_account_id);

-- Entries pushed to a provider's page: an entry goes to one page once. A row with no
-- external_post_id is a push in progress (claimed before the provider is called, so two
-- concurrent pushes cannot both post).
CREATE TABLE integration_pushes (
    user_id             uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    entry_id            uuid NOT NULL REFERENCES entries (id) ON DELETE CASCADE,
    provider            text NOT NULL CHECK (provider IN ('facebook')),
    external_account_id text NOT NULL,
    page_id             text NOT NULL CHECK (char_length(page_id) BETWEEN 1 AND 128),
    external_post_id    text CHECK (char_length(external_post_id) BETWEEN 1 AND 256),
    created_at          timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, entry_id, provider, page_id)
);
CREATE INDEX integration_pushes_external_idx ON integration_pushes (provider, external_account_id);

-- Data deletion requests from the provider (Facebook's data deletion callback). The row
-- says only that a request was received and when it was carried out; the confirmation code
-- is stored as its SHA-256, and nothing names the account it was about.
CREATE TABLE integration_deletions (
    code_hash    bytea PRIMARY KEY CHECK (octet_length(code_hash) = 32),
    provider     text NOT NULL CHECK (provider IN ('facebook')),
    status       text NOT NULL CHECK (status IN ('completed')),
    requested_at timestamptz NOT NULL DEFAULT now(),
    completed_at timestamptz
);

-- +goose Down
DROP TABLE integration_deletions;
DROP TABLE integration_pushes;
DROP TABLE integration_imports;
DROP TABLE integrations;
