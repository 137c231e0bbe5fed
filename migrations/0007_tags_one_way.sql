-- +goose Up
-- Tags are stored one way: entries.tags, the entry's own sorted list of normalised (trimmed,
-- lower-cased) names, which every read already returned (migration 0005). The tag filter
-- (GET /entries?tag=) asks it with @> through a GIN index, so the tags table, the entry_tags
-- links, the three statements every write ran to keep them and the janitor's collection of
-- unused tags all go. Tag names stay plaintext metadata, now only on the entry row
-- (docs/privacy.md).

-- The copy has been written with the links in every create and update since 0005; an entry
-- whose links say otherwise (a row written around the entries function) takes the links'
-- names, which are what the filter used to match. The backfill must not draw new
-- change_seqs: the entries have not changed for their clients.
ALTER TABLE entries DISABLE TRIGGER entries_change_seq;
UPDATE entries e SET tags = tg.names
FROM (
    SELECT et.entry_id, array_agg(t.name ORDER BY t.name COLLATE "C") AS names
    FROM entry_tags et JOIN tags t ON t.id = et.tag_id
    GROUP BY et.entry_id
) tg
WHERE tg.entry_id = e.id AND e.tags IS DISTINCT FROM tg.names;
ALTER TABLE entries ENABLE TRIGGER entries_change_seq;

-- What the tags table's columns guaranteed and a text[] does not: no NULL name, and no more
-- names than the API allows (32). Length and normalisation stay the API's to check.
ALTER TABLE entries ADD CONSTRAINT entries_tags_valid
    CHECK (cardinality(tags) <= 32 AND array_position(tags, NULL) IS NULL);

-- The tag filter: e.tags @> $n. The planner picks this index for a rare tag and walks
-- entries_user_occurred_idx, checking tags on each row, for a common one.
CREATE INDEX entries_tags_idx ON entries USING gin (tags);

DROP TABLE entry_tags;
DROP TABLE tags;

-- +goose Down
-- The tables as migration 0002 made them, filled from entries.tags: a tag per user and name
-- that some entry carries (deleted entries within retention included), and a link per entry
-- and name. A tag's created_at is the time of this migration; tags no entry carried were
-- collected by the janitor before and are not recreated.
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
CREATE INDEX entry_tags_tag_idx ON entry_tags (tag_id, entry_id);

INSERT INTO tags (id, user_id, name)
SELECT gen_random_uuid(), user_id, name
FROM (SELECT DISTINCT e.user_id, n.name FROM entries e CROSS JOIN LATERAL unnest(e.tags) AS n (name)) used;

INSERT INTO entry_tags (entry_id, tag_id)
SELECT e.id, t.id
FROM entries e CROSS JOIN LATERAL unnest(e.tags) AS n (name)
JOIN tags t ON t.user_id = e.user_id AND t.name = n.name;

DROP INDEX entries_tags_idx;
ALTER TABLE entries DROP CONSTRAINT entries_tags_valid;
