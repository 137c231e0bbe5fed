-- +goose Up
-- The search index's two tsvector columns get RUM indexes in place of GIN (the rum
-- extension, postgrespro/rum; Debian's postgresql-NN-rum). A GIN index finds the entries
-- that match a query but knows nothing of ranks, so a search had to read and rank every
-- match to find the best 20: 0.3 s for a word in 12 000 of 100 000 entries, 0.75 s for a
-- 3-letter prefix in 39 000 (docs/benchmarks.md). A RUM index keeps each token's positions
-- and weights with its entries, so it answers tokens @@ q by itself (phrases included,
-- without reading the row) and returns the matches in rank order (ORDER BY tokens <=> q),
-- so a search stops after its page. It stores what the tsvector already holds (tokens,
-- positions, weights) and nothing else: docs/privacy.md is unchanged by it.
--
-- CREATE EXTENSION needs a role allowed to create it (rum is not a trusted extension):
-- the migration Job's role, or an administrator beforehand (README, "Deploying").
CREATE EXTENSION IF NOT EXISTS rum;
DROP INDEX search_index_tokens_idx;
DROP INDEX search_index_tokens_prefixed_idx;
CREATE INDEX search_index_tokens_idx ON search_index USING rum (tokens rum_tsvector_ops);
CREATE INDEX search_index_tokens_prefixed_idx ON search_index USING rum (tokens_prefixed rum_tsvector_ops);

-- +goose Down
DROP INDEX search_index_tokens_idx;
DROP INDEX search_index_tokens_prefixed_idx;
CREATE INDEX search_index_tokens_idx ON search_index USING gin (tokens);
CREATE INDEX search_index_tokens_prefixed_idx ON search_index USING gin (tokens_prefixed);
