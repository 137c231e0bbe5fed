-- GET /api/v1/entries/{id}: findEntry with includeDeleted false. Variables: uid, eid,
-- include_deleted=false (-D).
SELECT e.id, e.title_ct, e.content_ct, e.ciphertext, e.ciphertext_format, e.intake_box IS NOT NULL AS pending,
	e.body_version, e.mood, e.source, e.occurred_at, e.created_at, e.updated_at, e.deleted_at, e.version, e.change_seq, e.tags
		FROM entries e
		WHERE e.id = :eid AND e.user_id = :uid AND (:include_deleted OR e.deleted_at IS NULL);
