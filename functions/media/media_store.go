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

// mediaRow is a row of the media table: one attachment of a stored object. Rows made by
// deduplication share the object_key of the row whose upload stored the bytes. Every query
// is scoped by user_id and leaves out soft-deleted rows, so another user's media and
// deleted media are alike: not found.
type mediaRow struct {
	ID          string    `db:"id"`
	UserID      string    `db:"user_id"`
	EntryID     *string   `db:"entry_id"`
	ObjectKey   string    `db:"object_key"`
	FilenameCT  []byte    `db:"filename_ct"`
	ContentType string    `db:"content_type"`
	SizeBytes   int64     `db:"size_bytes"`
	SHA256      []byte    `db:"sha256"`
	Status      string    `db:"status"`
	CreatedAt   time.Time `db:"created_at"`
	// UploadExpiresAt is when the presigned PUT stops working; nil for a row made by
	// deduplication, which shares another row's object and never had an upload URL.
	UploadExpiresAt *time.Time `db:"upload_expires_at"`
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

// insertMedia stores a new media row: a pending upload (m.UploadExpiresAt set), or a
// ready row made by deduplication that shares another row's object (m.Status ready, no
// upload URL).
func insertMedia(ctx context.Context, db store.DBTX, m mediaRow) (mediaRow, error) {
	rows, err := db.Query(ctx, `
		INSERT INTO media (id, user_id, entry_id, object_key, filename_ct, content_type, size_bytes, sha256,
			status, upload_expires_at, completed_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, CASE WHEN $9 = 'ready' THEN now() END)
		RETURNING `+mediaColumns,
		m.ID, m.UserID, m.EntryID, m.ObjectKey, m.FilenameCT, m.ContentType, m.SizeBytes, m.SHA256,
		m.Status, m.UploadExpiresAt)
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

// findDuplicate returns the user's ready, undeleted media holding the same bytes (same
// SHA-256 and size): the one attached to entryID when there is one, else the oldest. The
// row is locked FOR SHARE until the transaction ends, so a concurrent DELETE of it waits
// and the janitor, which keeps an object while any row that is not long deleted refers to
// it, sees the row a deduplication adds for another entry before it can find the object
// unreferenced.
func findDuplicate(ctx context.Context, db store.DBTX, userID string, sum []byte, size int64, entryID *string) (mediaRow, error) {
	rows, err := db.Query(ctx, `
		SELECT `+mediaColumns+`
		FROM media
		WHERE user_id = $1 AND sha256 = $2 AND size_bytes = $3 AND status = 'ready' AND deleted_at IS NULL
		ORDER BY COALESCE(entry_id = $4::uuid, false) DESC, created_at, id
		LIMIT 1
		FOR SHARE`, userID, sum, size, entryID)
	if err != nil {
		return mediaRow{}, fmt.Errorf("media: find duplicate: %w", store.Translate(err))
	}
	m, err := collectOneMedia(rows)
	if err != nil {
		return mediaRow{}, fmt.Errorf("media: find duplicate: %w", store.Translate(err))
	}
	return m, nil
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
