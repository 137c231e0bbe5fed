package entries

import (
	"context"
	"fmt"
	"time"

	"github.com/xmojo/diary/shared/store"
)

// idempotencyRecord is a row of entry_idempotency: the create a key was first used for.
type idempotencyRecord struct {
	RequestHash []byte    `db:"request_hash"`
	EntryID     string    `db:"entry_id"`
	CreatedAt   time.Time `db:"created_at"`
}

// getIdempotency returns the record of the user's key, or store.ErrNotFound.
func getIdempotency(ctx context.Context, db store.DBTX, userID string, keyHash []byte) (idempotencyRecord, error) {
	var rec idempotencyRecord
	err := db.QueryRow(ctx, `
		SELECT request_hash, entry_id, created_at FROM entry_idempotency
		WHERE user_id = $1 AND key_hash = $2`,
		userID, keyHash).Scan(&rec.RequestHash, &rec.EntryID, &rec.CreatedAt)
	if err != nil {
		return idempotencyRecord{}, fmt.Errorf("entries: get idempotency key: %w", store.Translate(err))
	}
	return rec, nil
}

// putIdempotency records that the user's key created the entry, replacing an expired
// record of the same key.
func putIdempotency(ctx context.Context, db store.DBTX, userID string, keyHash, requestHash []byte, entryID string, at time.Time) error {
	_, err := db.Exec(ctx, `
		INSERT INTO entry_idempotency (user_id, key_hash, request_hash, entry_id, created_at)
		VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (user_id, key_hash) DO UPDATE
		SET request_hash = excluded.request_hash, entry_id = excluded.entry_id, created_at = excluded.created_at`,
		userID, keyHash, requestHash, entryID, at)
	if err != nil {
		return fmt.Errorf("entries: put idempotency key: %w", store.Translate(err))
	}
	return nil
}
