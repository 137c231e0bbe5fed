-- GET /api/v1/entries (no filter, default limit 20, default ENTRY_PAGE_MAX_BYTES 4 MiB):
-- the SQL findEntries builds for it (listQuery, pageQuery). Variables: uid (-D).
SELECT e.id, e.title_ct, e.content_ct, e.ciphertext, e.ciphertext_format, e.intake_box IS NOT NULL AS pending,
	e.body_version, e.mood, e.source, e.occurred_at, e.created_at, e.updated_at, e.deleted_at, e.version, e.change_seq, e.tags, e.has_next FROM (
		SELECT e.*, row_number() OVER w AS page_n, sum(e.content_bytes) OVER w AS page_bytes,
			lead(true, 1, false) OVER w AS has_next
		FROM entries e WHERE e.user_id = :uid AND e.deleted_at IS NULL
		WINDOW w AS (ORDER BY e.occurred_at DESC, e.id DESC ROWS UNBOUNDED PRECEDING)
		ORDER BY e.occurred_at DESC, e.id DESC LIMIT 20
	) e
	WHERE e.page_n = 1 OR e.page_bytes <= 4194304
	ORDER BY e.occurred_at DESC, e.id DESC;
