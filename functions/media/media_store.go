package media

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/xmojo/diary/shared/keyset"
	"github.com/xmojo/diary/shared/store"
)

// Media statuses.
const (
	statusPending = "pending"
	statusReady   = "ready"
)

// mediaRow is a row of the media table. Every query is scoped by user_id and leaves out
// soft-deleted rows, so another user's media and deleted media are alike: not found.
type mediaRow struct {
	ID              string     `db:"id"`
	UserID          string     `db:"user_id"`
	EntryID         *string    `db:"entry_id"`
	ObjectKey       string     `db:"object_key"`
	FilenameCT      []byte     `db:"filename_ct"`
	ContentType     string     `db:"content_type"`
	SizeBytes       int64      `db:"size_bytes"`
	SHA256          []byte     `db:"sha256"`
	Status          string     `db:"status"`
	CreatedAt       time.Time  `db:"created_at"`
	UploadExpiresAt time.Time  `db:"upload_expires_at"`
	CompletedAt     *time.Time `db:"completed_at"`
}

const mediaColumns = `id, user_id, entry_id, object_key, filename_ct, content_type, size_bytes, sha256,
	status, created_at, upload_expires_at, completed_at`

func collectMedia(rows pgx.Rows) ([]mediaRow, error) {
	return pgx.CollectRows(rows, pgx.RowToStructByName[mediaRow])
}

func collectOneMedia(rows pgx.Rows) (mediaRow, error) {
	return pgx.CollectExactlyOneRow(rows, pgx.RowToStructByName[mediaRow])
}

// lockUserMedia serialises the quota decisions of one user (upload and complete) until
// the transaction ends, so two concurrent uploads cannot both fit under the quota.
func lockUserMedia(ctx context.Context, tx pgx.Tx, userID string) error {
	_, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended('media-quota:' || $1::text, 0))`, userID)
	if err != nil {
		return fmt.Errorf("media: lock user media: %w", store.Translate(err))
	}
	return nil
}

// insertMedia stores a new pending media row.
func insertMedia(ctx context.Context, db store.DBTX, m mediaRow) (mediaRow, error) {
	rows, err := db.Query(ctx, `
		INSERT INTO media (id, user_id, entry_id, object_key, filename_ct, content_type, size_bytes, sha256,
			status, upload_expires_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'pending', $9)
		RETURNING `+mediaColumns,
		m.ID, m.UserID, m.EntryID, m.ObjectKey, m.FilenameCT, m.ContentType, m.SizeBytes, m.SHA256, m.UploadExpiresAt)
	if err != nil {
		return mediaRow{}, fmt.Errorf("media: insert media: %w", store.Translate(err))
	}
	created, err := collectOneMedia(rows)
	if err != nil {
		return mediaRow{}, fmt.Errorf("media: insert media: %w", store.Translate(err))
	}
	return created, nil
}

// getMedia returns the user's media id, unless it is deleted.
func getMedia(ctx context.Context, db store.DBTX, userID, id string) (mediaRow, error) {
	rows, err := db.Query(ctx, `
		SELECT `+mediaColumns+`
		FROM media
		WHERE id = $1 AND user_id = $2 AND deleted_at IS NULL`, id, userID)
	if err != nil {
		return mediaRow{}, fmt.Errorf("media: get media: %w", store.Translate(err))
	}
	m, err := collectOneMedia(rows)
	if err != nil {
		return mediaRow{}, fmt.Errorf("media: get media: %w", store.Translate(err))
	}
	return m, nil
}

// findReadyBySHA256 returns the user's oldest ready media with the digest, for
// deduplication.
func findReadyBySHA256(ctx context.Context, db store.DBTX, userID string, sum []byte) (mediaRow, error) {
	rows, err := db.Query(ctx, `
		SELECT `+mediaColumns+`
		FROM media
		WHERE user_id = $1 AND sha256 = $2 AND status = 'ready' AND deleted_at IS NULL
		ORDER BY created_at, id
		LIMIT 1`, userID, sum)
	if err != nil {
		return mediaRow{}, fmt.Errorf("media: find by sha256: %w", store.Translate(err))
	}
	m, err := collectOneMedia(rows)
	if err != nil {
		return mediaRow{}, fmt.Errorf("media: find by sha256: %w", store.Translate(err))
	}
	return m, nil
}

// usedBytes sums the user's ready media and the pending ones whose upload URL still
// works at now.
func usedBytes(ctx context.Context, db store.DBTX, userID string, now time.Time) (int64, error) {
	var used int64
	err := db.QueryRow(ctx, `
		SELECT COALESCE(SUM(size_bytes), 0)::bigint
		FROM media
		WHERE user_id = $1 AND deleted_at IS NULL
		  AND (status = 'ready' OR (status = 'pending' AND upload_expires_at > $2))`, userID, now).Scan(&used)
	if err != nil {
		return 0, fmt.Errorf("media: used bytes: %w", store.Translate(err))
	}
	return used, nil
}

// readyBytes sums the user's ready media, leaving out the media exceptID.
func readyBytes(ctx context.Context, db store.DBTX, userID, exceptID string) (int64, error) {
	var used int64
	err := db.QueryRow(ctx, `
		SELECT COALESCE(SUM(size_bytes), 0)::bigint
		FROM media
		WHERE user_id = $1 AND deleted_at IS NULL AND status = 'ready' AND id <> $2`, userID, exceptID).Scan(&used)
	if err != nil {
		return 0, fmt.Errorf("media: ready bytes: %w", store.Translate(err))
	}
	return used, nil
}

// markReady turns the user's pending media id into ready. It reports store.ErrNotFound
// when no pending, undeleted row matched (already ready, deleted, or not the user's).
func markReady(ctx context.Context, db store.DBTX, userID, id string) (mediaRow, error) {
	rows, err := db.Query(ctx, `
		UPDATE media SET status = 'ready', completed_at = now()
		WHERE id = $1 AND user_id = $2 AND status = 'pending' AND deleted_at IS NULL
		RETURNING `+mediaColumns, id, userID)
	if err != nil {
		return mediaRow{}, fmt.Errorf("media: mark ready: %w", store.Translate(err))
	}
	m, err := collectOneMedia(rows)
	if err != nil {
		return mediaRow{}, fmt.Errorf("media: mark ready: %w", store.Translate(err))
	}
	return m, nil
}

// softDeleteMedia marks the user's media id deleted. The janitor removes the object and
// later the row.
func softDeleteMedia(ctx context.Context, db store.DBTX, userID, id string) error {
	tag, err := db.Exec(ctx, `
		UPDATE media SET deleted_at = now()
		WHERE id = $1 AND user_id = $2 AND deleted_at IS NULL`, id, userID)
	if err != nil {
		return fmt.Errorf("media: delete media: %w", store.Translate(err))
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("media: delete media: %w", store.ErrNotFound)
	}
	return nil
}

// entryIsUsers reports whether entryID is one of the user's entries that is not deleted.
func entryIsUsers(ctx context.Context, db store.DBTX, userID, entryID string) (bool, error) {
	var ok bool
	err := db.QueryRow(ctx, `
		SELECT EXISTS (SELECT 1 FROM entries WHERE id = $1 AND user_id = $2 AND deleted_at IS NULL)`,
		entryID, userID).Scan(&ok)
	if err != nil {
		return false, fmt.Errorf("media: check entry: %w", store.Translate(err))
	}
	return ok, nil
}

// listFilter selects a page of a user's media: newest first, after the cursor position
// when one is given, only those of one entry when entryID is set.
type listFilter struct {
	entryID *string
	after   *keyset.Position
	limit   int
}

// listMedia returns up to f.limit media of the user, newest first.
func listMedia(ctx context.Context, db store.DBTX, userID string, f listFilter) ([]mediaRow, error) {
	var (
		where = []string{"user_id = $1", "deleted_at IS NULL"}
		args  = []any{userID}
	)
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	if f.entryID != nil {
		where = append(where, "entry_id = "+arg(*f.entryID))
	}
	if f.after != nil {
		where = append(where, "(created_at, id) < ("+arg(f.after.At)+", "+arg(f.after.ID)+"::uuid)")
	}
	rows, err := db.Query(ctx, `
		SELECT `+mediaColumns+`
		FROM media
		WHERE `+strings.Join(where, " AND ")+`
		ORDER BY created_at DESC, id DESC
		LIMIT `+arg(f.limit), args...)
	if err != nil {
		return nil, fmt.Errorf("media: list media: %w", store.Translate(err))
	}
	items, err := collectMedia(rows)
	if err != nil {
		return nil, fmt.Errorf("media: list media: %w", store.Translate(err))
	}
	return items, nil
}
