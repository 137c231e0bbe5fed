-- GET /api/v1/entries (no filter, default limit 20, so 21 rows are asked for): the SQL
-- findEntries builds for it (listQuery). Variables: uid (-D).
WITH page AS (SELECT e.id, e.title_ct, e.content_ct, e.ciphertext, e.body_version, e.mood, e.source,
	e.occurred_at, e.created_at, e.updated_at, e.deleted_at, e.version, e.change_seq FROM entries e WHERE e.user_id = :uid AND e.deleted_at IS NULL ORDER BY e.occurred_at DESC, e.id DESC LIMIT 21)
		SELECT p.id, p.title_ct, p.content_ct, p.ciphertext, p.body_version, p.mood, p.source,
			p.occurred_at, p.created_at, p.updated_at, p.deleted_at, p.version, p.change_seq,
			coalesce(tg.names, '{}') AS tags
		FROM page p LEFT JOIN (
			SELECT et.entry_id, array_agg(t.name ORDER BY t.name) AS names
			FROM entry_tags et JOIN tags t ON t.id = et.tag_id
			WHERE et.entry_id IN (SELECT id FROM page)
			GROUP BY et.entry_id
		) tg ON tg.entry_id = p.id
		ORDER BY p.occurred_at DESC, p.id DESC;
