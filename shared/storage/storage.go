// Package storage provides a user's media storage accounting: the quota setting
// (STORAGE_QUOTA_BYTES), read the same way by every function that embeds Quota in its
// config, the bytes in use, and the check an upload must pass. The media table belongs to
// the media function; this package is the one way any other function reads it for usage
// (auth's /features), and the way media itself counts, so the two can never disagree
// (docs/architecture.md).
package storage

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/xmojo/diary/shared/store"
	"github.com/xmojo/diary/shared/userlock"
)

// ErrQuotaExceeded is returned by Quota.Check when an upload would take the user past
// the quota.
var ErrQuotaExceeded = errors.New("storage: quota exceeded")

// Quota is the storage quota setting. A function's config embeds it, so the variable,
// its default and its check are written once.
type Quota struct {
	// QuotaBytes is how many bytes of media each user may keep: ready media plus uploads
	// not yet completed or removed (docs/media.md).
	QuotaBytes int64 `envconfig:"STORAGE_QUOTA_BYTES" default:"1073741824"`
}

// Validate reports a quota that is not positive, naming the variable.
func (q Quota) Validate() error {
	if q.QuotaBytes <= 0 {
		return errors.New("STORAGE_QUOTA_BYTES must be positive")
	}
	return nil
}

// Usage returns the bytes that count against the user's quota: the bytes of every object
// that an undeleted media row of the user refers to, ready or pending, each object once
// (rows made by deduplication share one). A pending upload counts until it is completed
// or removed (by the user's DELETE or by the janitor), not only while its URL works,
// because its bytes can sit in S3 until the janitor removes them. It reads the index
// media_user_usage_idx (migration 0006).
func Usage(ctx context.Context, db store.DBTX, userID string) (int64, error) {
	var used int64
	err := db.QueryRow(ctx, `
		SELECT COALESCE(SUM(size_bytes), 0)::bigint
		FROM (SELECT DISTINCT ON (object_key) size_bytes
		      FROM media
		      WHERE user_id = $1 AND deleted_at IS NULL
		      ORDER BY object_key) objects`, userID).Scan(&used)
	if err != nil {
		return 0, fmt.Errorf("storage: usage: %w", store.Translate(err))
	}
	return used, nil
}

// Check returns ErrQuotaExceeded unless size more bytes fit in the user's quota. It takes
// the user's media lock (userlock.Media; a no-op when tx holds it already), which stays
// held until tx ends: the caller inserts the row that uses the bytes in the same
// transaction, so the next upload of the user is checked against a sum that includes it,
// and two concurrent uploads cannot both fit into the same room.
func (q Quota) Check(ctx context.Context, tx pgx.Tx, userID string, size int64) error {
	if _, err := userlock.Lock(ctx, tx, userID, userlock.Media); err != nil {
		return fmt.Errorf("storage: check quota: %w", err)
	}
	used, err := Usage(ctx, tx, userID)
	if err != nil {
		return fmt.Errorf("storage: check quota: %w", err)
	}
	if used+size > q.QuotaBytes {
		return ErrQuotaExceeded
	}
	return nil
}
