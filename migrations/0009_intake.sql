-- +goose Up
-- Content that arrives while the user is away (shared/intake, docs/intake.md): a job seals
-- it to the user's X25519 public key with HPKE and it becomes an entry at once.
--
-- uce: the box waits in intake_box (the entry is "pending": listed with no text) until the
-- user's next authenticated request or login re-seals it under the master key into
-- title_ct/content_ct and clears intake_box. e2e: the box is the entry's ciphertext,
-- stored verbatim, and ciphertext_format = 'intake/v1' tells the client how to open it;
-- NULL is the client's own envelope. Both columns hold only ciphertext.
ALTER TABLE entries
    ADD COLUMN intake_box bytea,
    ADD COLUMN ciphertext_format text CHECK (ciphertext_format IN ('intake/v1'));

-- Exactly one body of three kinds: a uce sealed body, an e2e ciphertext (the client's or an
-- intake box), or a uce pending box.
ALTER TABLE entries DROP CONSTRAINT entries_one_body;
ALTER TABLE entries ADD CONSTRAINT entries_one_body CHECK (
    (content_ct IS NOT NULL AND ciphertext IS NULL AND intake_box IS NULL AND ciphertext_format IS NULL)
    OR (content_ct IS NULL AND title_ct IS NULL AND ciphertext IS NOT NULL AND intake_box IS NULL)
    OR (content_ct IS NULL AND title_ct IS NULL AND ciphertext IS NULL AND intake_box IS NOT NULL AND ciphertext_format IS NULL)
);

-- Redemption finds a user's pending boxes, oldest first; the index holds only pending rows,
-- so it stays tiny and a check for "anything pending?" is one probe.
CREATE INDEX entries_intake_pending_idx ON entries (user_id, created_at, id) WHERE intake_box IS NOT NULL;

-- +goose Down
-- Pending boxes cannot be turned into either older body without the user's key: going down
-- refuses while any is left (redeem them first, by the users' next requests). An e2e entry
-- that holds an intake box keeps it as its ciphertext, without the format marker.
-- +goose StatementBegin
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM entries WHERE intake_box IS NOT NULL) THEN
        RAISE EXCEPTION 'entries hold pending intake boxes; they must be redeemed before migrating down';
    END IF;
END;
$$;
-- +goose StatementEnd
DROP INDEX entries_intake_pending_idx;
ALTER TABLE entries DROP CONSTRAINT entries_one_body;
ALTER TABLE entries ADD CONSTRAINT entries_one_body CHECK (
    (content_ct IS NOT NULL AND ciphertext IS NULL)
    OR (content_ct IS NULL AND title_ct IS NULL AND ciphertext IS NOT NULL)
);
ALTER TABLE entries DROP COLUMN ciphertext_format, DROP COLUMN intake_box;
