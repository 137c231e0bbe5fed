-- GET /api/v1/entries (no filter, default limit 20, so 21 rows are asked for): the SQL
-- findEntries builds for it (listQuery). Variables: uid (-D).
SELECT e.id, e.title_ct, e.content_ct, e.ciphertext, e.body_version, e.mood, e.source,
	e.occurred_at, e.created_at, e.updated_at, e.deleted_at, e.version, e.change_seq, e.tags FROM entries e WHERE e.user_id = :uid AND e.deleted_at IS NULL ORDER BY e.occurred_at DESC, e.id DESC LIMIT 21;
