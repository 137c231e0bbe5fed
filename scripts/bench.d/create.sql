-- POST /api/v1/entries of a uce entry without tags or Idempotency-Key, statement for
-- statement as functions/entries runs it (userlock.Lock of the Entries class, insertEntry,
-- insertEntryEvent), with a title (21 bytes) and content (1024 bytes) the size the API
-- bench sends, once sealed (+41 bytes each). Variables: uid (-D).
-- The id is drawn by gen_random_uuid() here, in Go (a UUIDv7) by the API.
BEGIN;
WITH granted AS MATERIALIZED (SELECT pg_advisory_xact_lock(1701::int4, hashtext(:uid::uuid::text)))
SELECT clock_timestamp() AS at FROM granted \gset
INSERT INTO entries AS e (id, user_id, title_ct, content_ct, ciphertext, body_version, mood, source,
			occurred_at, created_at, updated_at, version, content_bytes, tags)
		VALUES (gen_random_uuid(), :uid, decode(repeat('a5', 62), 'hex'), decode(repeat('5a', 1065), 'hex'), NULL, 1, NULL, 'app', :at, :at, :at, 1, 1127, '{}')
		RETURNING e.id, e.title_ct, e.content_ct, e.ciphertext, e.ciphertext_format, e.intake_box IS NOT NULL AS pending,
	e.body_version, e.mood, e.source, e.occurred_at, e.created_at, e.updated_at, e.deleted_at, e.version, e.change_seq, e.tags \gset
INSERT INTO entry_events (entry_id, user_id, event_type, version, at)
		VALUES (:id, :uid, 'created', 1, :at);
COMMIT;
