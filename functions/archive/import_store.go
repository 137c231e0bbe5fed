package archive

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/xmojo/diary/shared/keyset"
	"github.com/xmojo/diary/shared/store"
)

// importRow is a row of imports (migration 0012).
type importRow struct {
	ID              string          `db:"id"`
	UserID          string          `db:"user_id"`
	Format          string          `db:"format"`
	Status          string          `db:"status"`
	SizeBytes       int64           `db:"size_bytes"`
	SHA256          []byte          `db:"sha256"`
	StagingKey      *string         `db:"staging_key"`
	UploadExpiresAt time.Time       `db:"upload_expires_at"`
	JobID           *string         `db:"job_id"`
	EntriesCreated  int             `db:"entries_created"`
	MediaCreated    int             `db:"media_created"`
	Skipped         int             `db:"skipped"`
	Errors          json.RawMessage `db:"errors"`
	Failure         *string         `db:"failure"`
	CreatedAt       time.Time       `db:"created_at"`
	FinishedAt      *time.Time      `db:"finished_at"`
}

const importColumns = `id, user_id, format, status, size_bytes, sha256, staging_key, upload_expires_at,
	job_id, entries_created, media_created, skipped, errors, failure, created_at, finished_at`

// importError is one item of an import's errors.
type importError struct {
	Item    string `json:"item"`
	Message string `json:"message"`
}

// importView is an import as the API shows it.
type importView struct {
	ID             string        `json:"id"`
	Format         string        `json:"format"`
	Status         string        `json:"status"`
	JobID          *string       `json:"job_id"`
	EntriesCreated int           `json:"entries_created"`
	MediaCreated   int           `json:"media_created"`
	Skipped        int           `json:"skipped"`
	Errors         []importError `json:"errors"`
	Error          *string       `json:"error"`
	CreatedAt      time.Time     `json:"created_at"`
	FinishedAt     *time.Time    `json:"finished_at"`
}

func (i importRow) view() importView {
	v := importView{
		ID: i.ID, Format: i.Format, Status: i.Status, JobID: i.JobID,
		EntriesCreated: i.EntriesCreated, MediaCreated: i.MediaCreated, Skipped: i.Skipped,
		Errors: []importError{}, Error: i.Failure, CreatedAt: i.CreatedAt.UTC(),
	}
	if len(i.Errors) > 0 {
		_ = json.Unmarshal(i.Errors, &v.Errors) // the column's CHECK keeps it an array
	}
	if i.FinishedAt != nil {
		t := i.FinishedAt.UTC()
		v.FinishedAt = &t
	}
	return v
}

func collectImport(rows pgx.Rows) (importRow, error) {
	return pgx.CollectExactlyOneRow(rows, pgx.RowToStructByName[importRow])
}

// insertImport stores a new import awaiting its upload.
func insertImport(ctx context.Context, db store.DBTX, i importRow) (importRow, error) {
	rows, err := db.Query(ctx, `
		INSERT INTO imports (id, user_id, format, size_bytes, sha256, staging_key, upload_expires_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7)
		RETURNING `+importColumns,
		i.ID, i.UserID, i.Format, i.SizeBytes, i.SHA256, i.StagingKey, i.UploadExpiresAt)
	if err != nil {
		return importRow{}, fmt.Errorf("archive: insert import: %w", store.Translate(err))
	}
	row, err := collectImport(rows)
	if err != nil {
		return importRow{}, fmt.Errorf("archive: insert import: %w", store.Translate(err))
	}
	return row, nil
}

// getImport returns the user's import.
func getImport(ctx context.Context, db store.DBTX, userID, id string) (importRow, error) {
	rows, err := db.Query(ctx, `SELECT `+importColumns+` FROM imports WHERE id = $1 AND user_id = $2`, id, userID)
	if err != nil {
		return importRow{}, fmt.Errorf("archive: get import: %w", store.Translate(err))
	}
	row, err := collectImport(rows)
	if err != nil {
		return importRow{}, fmt.Errorf("archive: get import: %w", store.Translate(err))
	}
	return row, nil
}

// queueImport moves the user's import from awaiting_upload to queued with its job; not
// found when it is no longer awaiting its upload (a concurrent start won).
func queueImport(ctx context.Context, db store.DBTX, userID, id, jobID string) (importRow, error) {
	rows, err := db.Query(ctx, `
		UPDATE imports SET status = 'queued', job_id = $3, updated_at = now()
		WHERE id = $1 AND user_id = $2 AND status = 'awaiting_upload'
		RETURNING `+importColumns, id, userID, jobID)
	if err != nil {
		return importRow{}, fmt.Errorf("archive: queue import: %w", store.Translate(err))
	}
	row, err := collectImport(rows)
	if err != nil {
		return importRow{}, fmt.Errorf("archive: queue import: %w", store.Translate(err))
	}
	return row, nil
}

// listImports returns up to limit of the user's imports after the position, newest first.
func listImports(ctx context.Context, db store.DBTX, userID string, after *keyset.Position, limit int) ([]importRow, error) {
	var (
		rows pgx.Rows
		err  error
	)
	if after == nil {
		rows, err = db.Query(ctx, `
			SELECT `+importColumns+` FROM imports WHERE user_id = $1
			ORDER BY created_at DESC, id DESC LIMIT $2`, userID, limit)
	} else {
		rows, err = db.Query(ctx, `
			SELECT `+importColumns+` FROM imports WHERE user_id = $1 AND (created_at, id) < ($2, $3::uuid)
			ORDER BY created_at DESC, id DESC LIMIT $4`, userID, after.At, after.ID, limit)
	}
	if err != nil {
		return nil, fmt.Errorf("archive: list imports: %w", store.Translate(err))
	}
	out, err := pgx.CollectRows(rows, pgx.RowToStructByName[importRow])
	if err != nil {
		return nil, fmt.Errorf("archive: list imports: %w", store.Translate(err))
	}
	return out, nil
}
