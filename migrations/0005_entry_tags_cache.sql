-- +goose Up
-- entries.tags: a copy of the entry's tag names, sorted bytewise (the order the API
-- returns them in), so reading an entry or a page of entries needs no join over
-- entry_tags and tags. entry_tags and tags stay the source for the tag filter and the
-- user's tag table; functions/entries writes both in the same transaction (insertEntry /
-- updateEntryBody write this column, setEntryTags the links), under the user's entry lock.
-- Tag names are plaintext metadata already (docs/privacy.md); this copies no entry text.
ALTER TABLE entries ADD COLUMN tags text[] NOT NULL DEFAULT '{}';

-- The backfill must not draw new change_seqs: the entries have not changed, and the sync
-- feed must not send every tagged entry again.
ALTER TABLE entries DISABLE TRIGGER entries_change_seq;
UPDATE entries e SET tags = tg.names
FROM (
    SELECT et.entry_id, array_agg(t.name ORDER BY t.name COLLATE "C") AS names
    FROM entry_tags et JOIN tags t ON t.id = et.tag_id
    GROUP BY et.entry_id
) tg
WHERE tg.entry_id = e.id;
ALTER TABLE entries ENABLE TRIGGER entries_change_seq;

-- +goose Down
ALTER TABLE entries DROP COLUMN tags;
