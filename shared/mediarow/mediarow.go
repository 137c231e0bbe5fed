// Package mediarow provides the media rows that functions other than media read and write:
// the archive's export reads a user's ready media, and an import adds ready media for
// bytes it has copied into the user's prefix itself, deduplicated against what the user
// already stores. The media table belongs to the media function (docs/architecture.md);
// this package follows its rules: rows are scoped by user, a ready row made without an
// upload has no upload URL, the bytes are found by SHA-256 and size among the user's ready,
// undeleted rows, and the user's media lock (shared/userlock, class Media) serialises the
// deduplication, the quota check and the insert.
package mediarow

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/xmojo/diary/shared/store"
)

// MaxBytes is the largest media object: 50 MiB, the media API's limit and the table's.
const MaxBytes = 50 << 20

// allowedContentTypes are the media types a media may have: images, audio, video and
// PDF, never active content (HTML, SVG, scripts). The media function's upload allows the
// same types.
var allowedContentTypes = map[string]bool{
	"image/jpeg": true, "image/png": true, "image/gif": true, "image/webp": true,
	"image/heic": true, "image/heif": true,
	"audio/mpeg": true, "audio/mp4": true, "audio/aac": true, "audio/ogg": true,
	"audio/wav": true, "audio/webm": true, "audio/x-m4a": true,
	"video/mp4": true, "video/quicktime": true, "video/webm": true,
	"application/pdf": true,
}

// Allowed reports whether a media may have the content type (a bare media type, no
// parameters).
func Allowed(contentType string) bool { return allowedContentTypes[contentType] }

// ContentTypes lists the allowed media types, sorted.
func ContentTypes() []string {
	out := make([]string, 0, len(allowedContentTypes))
	for ct := range allowedContentTypes {
		out = append(out, ct)
	}
	slices.Sort(out)
	return out
}

// ObjectKey is where a media's bytes live: u/<user id>/<media id>, built from ids only.
func ObjectKey(userID, mediaID string) string { return "u/" + userID + "/" + mediaID }

// Row is a ready media row.
type Row struct {
	ID          string    `db:"id"`
	UserID      string    `db:"user_id"`
	EntryID     *string   `db:"entry_id"`
	ObjectKey   string    `db:"object_key"`
	FilenameCT  []byte    `db:"filename_ct"`
	ContentType string    `db:"content_type"`
	SizeBytes   int64     `db:"size_bytes"`
	SHA256      []byte    `db:"sha256"`
	CreatedAt   time.Time `db:"created_at"`
}

const columns = `id, user_id, entry_id, object_key, filename_ct, content_type, size_bytes, sha256, created_at`

// InsertReady adds a ready media row for bytes already stored at r.ObjectKey (copied there
// by the caller, or another row's object when deduplicated). Call it in the transaction
// that holds the user's media lock and, for new bytes, passed the quota check. inserted
// is false when a live row already attaches the same object to the same entry (the
// media_object_entry_key rule of migration 0006): the entry has those bytes already.
func InsertReady(ctx context.Context, db store.DBTX, r Row) (inserted bool, err error) {
	tag, err := db.Exec(ctx, `
		INSERT INTO media (id, user_id, entry_id, object_key, filename_ct, content_type, size_bytes, sha256,
			status, upload_expires_at, completed_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'ready', NULL, now())
		ON CONFLICT (object_key, entry_id) WHERE deleted_at IS NULL DO NOTHING`,
		r.ID, r.UserID, r.EntryID, r.ObjectKey, r.FilenameCT, r.ContentType, r.SizeBytes, r.SHA256)
	if err != nil {
		return false, fmt.Errorf("mediarow: insert: %w", store.Translate(err))
	}
	return tag.RowsAffected() == 1, nil
}

// FindReady returns the user's oldest ready, undeleted media holding the same bytes (same
// SHA-256 and size), locked FOR SHARE to the end of the transaction so the janitor cannot
// find its object unreferenced before a row that shares it commits. ok is false when the
// user stores no such bytes.
func FindReady(ctx context.Context, db store.DBTX, userID string, sha256 []byte, size int64) (Row, bool, error) {
	rows, err := db.Query(ctx, `
		SELECT `+columns+`
		FROM media
		WHERE user_id = $1 AND sha256 = $2 AND size_bytes = $3 AND status = 'ready' AND deleted_at IS NULL
		ORDER BY created_at, id
		LIMIT 1
		FOR SHARE`, userID, sha256, size)
	if err != nil {
		return Row{}, false, fmt.Errorf("mediarow: find ready: %w", store.Translate(err))
	}
	r, err := pgx.CollectExactlyOneRow(rows, pgx.RowToStructByName[Row])
	if errors.Is(err, pgx.ErrNoRows) {
		return Row{}, false, nil
	}
	if err != nil {
		return Row{}, false, fmt.Errorf("mediarow: find ready: %w", store.Translate(err))
	}
	return r, true, nil
}

// After is a position in ListReady's order, (created_at, id) ascending.
type After struct {
	CreatedAt time.Time
	ID        string
}

// ListReady returns up to limit of the user's ready, undeleted media after the position
// (nil: from the first), oldest first.
func ListReady(ctx context.Context, db store.DBTX, userID string, after *After, limit int) ([]Row, error) {
	var (
		rows pgx.Rows
		err  error
	)
	if after == nil {
		rows, err = db.Query(ctx, `
			SELECT `+columns+` FROM media
			WHERE user_id = $1 AND status = 'ready' AND deleted_at IS NULL
			ORDER BY created_at, id LIMIT $2`, userID, limit)
	} else {
		rows, err = db.Query(ctx, `
			SELECT `+columns+` FROM media
			WHERE user_id = $1 AND status = 'ready' AND deleted_at IS NULL AND (created_at, id) > ($2, $3::uuid)
			ORDER BY created_at, id LIMIT $4`, userID, after.CreatedAt, after.ID, limit)
	}
	if err != nil {
		return nil, fmt.Errorf("mediarow: list ready: %w", store.Translate(err))
	}
	out, err := pgx.CollectRows(rows, pgx.RowToStructByName[Row])
	if err != nil {
		return nil, fmt.Errorf("mediarow: list ready: %w", store.Translate(err))
	}
	return out, nil
}

// OfEntries returns the user's ready, undeleted media attached to any of the entries,
// oldest first.
func OfEntries(ctx context.Context, db store.DBTX, userID string, entryIDs []string) ([]Row, error) {
	rows, err := db.Query(ctx, `
		SELECT `+columns+` FROM media
		WHERE user_id = $1 AND entry_id = ANY($2::uuid[]) AND status = 'ready' AND deleted_at IS NULL
		ORDER BY created_at, id`, userID, entryIDs)
	if err != nil {
		return nil, fmt.Errorf("mediarow: of entries: %w", store.Translate(err))
	}
	out, err := pgx.CollectRows(rows, pgx.RowToStructByName[Row])
	if err != nil {
		return nil, fmt.Errorf("mediarow: of entries: %w", store.Translate(err))
	}
	return out, nil
}

// Attached reports whether a live media row of the user already attaches the object to
// the entry (nil: to no entry): the bytes are there already, and a second row would be a
// duplicate (migration 0006's media_object_entry_key).
func Attached(ctx context.Context, db store.DBTX, userID, objectKey string, entryID *string) (bool, error) {
	var ok bool
	err := db.QueryRow(ctx, `
		SELECT EXISTS (SELECT 1 FROM media
		               WHERE user_id = $1 AND object_key = $2 AND entry_id IS NOT DISTINCT FROM $3::uuid
		                 AND deleted_at IS NULL)`, userID, objectKey, entryID).Scan(&ok)
	if err != nil {
		return false, fmt.Errorf("mediarow: attached: %w", store.Translate(err))
	}
	return ok, nil
}
