-- +goose Up
-- The uce search index: one row per indexed entry, holding only keyed tokens. See
-- docs/privacy.md ("The search index") for what it reveals and shared/blindindex for how
-- the tokens are made.
--
-- tokens is a tsvector whose lexemes are not words: each is an HMAC of a stemmed word under
-- the user's search key, which is derived from the master key and exists only while the
-- user is logged in. tokens_prefixed holds the same and, under another domain separation,
-- the HMACs of every word's prefixes (3 to 8 characters), for prefix* queries; queries
-- without a prefix read only tokens, which is about the size of a plaintext tsvector.
-- Positions and weights (title A, content D) are PostgreSQL's own, so phrase search (<->)
-- and ts_rank_cd work unchanged. entry_version is the entries.body_version whose text the
-- tokens were made from: a row older than its entry's body is stale and counts as pending
-- (GET /api/v1/search/stats) until it is rebuilt. Nothing else from the entry is stored.
CREATE TABLE search_index (
    entry_id        uuid PRIMARY KEY REFERENCES entries (id) ON DELETE CASCADE,
    user_id         uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    entry_version   integer NOT NULL CHECK (entry_version >= 1),
    tokens          tsvector NOT NULL,
    tokens_prefixed tsvector NOT NULL,
    indexed_at      timestamptz NOT NULL DEFAULT now()
);
-- The search itself. Tokens are keyed per user, so a token of one user's index practically
-- never occurs in another's: the GIN scan is already confined to the caller's rows, and
-- the query's user_id condition only confirms it.
CREATE INDEX search_index_tokens_idx ON search_index USING gin (tokens);
CREATE INDEX search_index_tokens_prefixed_idx ON search_index USING gin (tokens_prefixed);
-- Stats (count, last_indexed_at) and a user's rows for a reindex.
CREATE INDEX search_index_user_idx ON search_index (user_id, indexed_at);

-- +goose Down
DROP TABLE search_index;
