-- GET /api/v1/entries (no filter, default limit 20, so 21 rows are asked for): the SQL
-- findEntries builds for it. Variables: uid (-D).
SELECT e.id, e.title_ct, e.content_ct, e.ciphertext, e.body_version, e.mood, e.source,
	e.occurred_at, e.created_at, e.updated_at, e.deleted_at, e.version, e.change_seq,
	ARRAY(SELECT t.name FROM entry_tags et JOIN tags t ON t.id = et.tag_id
	      WHERE et.entry_id = e.id ORDER BY t.name) AS tags FROM entries e WHERE e.user_id = :uid AND e.deleted_at IS NULL ORDER BY e.occurred_at DESC, e.id DESC LIMIT 21;
