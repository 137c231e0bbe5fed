package importer

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/xmojo/diary/shared/store"
)

// Import formats and statuses, as the archive function writes them (migration 0012).
const (
	formatDiary  = "diary"
	formatDayOne = "dayone"

	statusAwaitingUpload = "awaiting_upload"
	statusSucceeded      = "succeeded"
	statusFailed         = "failed"
)

// importRow is what the importer reads of an import.
type importRow struct {
	ID         string  `db:"id"`
	UserID     string  `db:"user_id"`
	Format     string  `db:"format"`
	Status     string  `db:"status"`
	SizeBytes  int64   `db:"size_bytes"`
	StagingKey *string `db:"staging_key"`
	JobID      *string `db:"job_id"`
}

// loadImport reads the user's import.
func loadImport(ctx context.Context, db store.DBTX, userID, id string) (importRow, error) {
	rows, err := db.Query(ctx, `
		SELECT id, user_id, format, status, size_bytes, staging_key, job_id
		FROM imports WHERE id = $1 AND user_id = $2`, id, userID)
	if err != nil {
		return importRow{}, fmt.Errorf("load import: %w", store.Translate(err))
	}
	imp, err := pgx.CollectExactlyOneRow(rows, pgx.RowToStructByName[importRow])
	if err != nil {
		return importRow{}, fmt.Errorf("load import: %w", store.Translate(err))
	}
	return imp, nil
}

// markRunning moves the import to running and empties its errors list, which this
// delivery fills again (see run.run).
func markRunning(ctx context.Context, db store.DBTX, userID, id string) error {
	if _, err := db.Exec(ctx, `
		UPDATE imports SET status = 'running', errors = '[]'::jsonb, updated_at = now()
		WHERE id = $1 AND user_id = $2 AND status IN ('queued', 'running')`, id, userID); err != nil {
		return fmt.Errorf("mark import running: %w", store.Translate(err))
	}
	return nil
}

// addCounts adds what a batch created, and what it skipped, to the import.
func addCounts(ctx context.Context, db store.DBTX, userID, id string, c counts) error {
	if c == (counts{}) {
		return nil
	}
	if _, err := db.Exec(ctx, `
		UPDATE imports SET entries_created = entries_created + $3, media_created = media_created + $4,
			skipped = skipped + $5, updated_at = now()
		WHERE id = $1 AND user_id = $2`, id, userID, c.entries, c.media, c.skipped); err != nil {
		return fmt.Errorf("add import counts: %w", store.Translate(err))
	}
	return nil
}

// appendErrors appends raw (a JSON array of items) to the import's errors.
func appendErrors(ctx context.Context, db store.DBTX, userID, id string, raw []byte) error {
	if _, err := db.Exec(ctx, `
		UPDATE imports SET errors = errors || $3::jsonb, updated_at = now()
		WHERE id = $1 AND user_id = $2`, id, userID, raw); err != nil {
		return fmt.Errorf("append import errors: %w", store.Translate(err))
	}
	return nil
}

// finishImport ends the import: succeeded, or failed with message; the staging object
// is gone by now.
func finishImport(ctx context.Context, db store.DBTX, userID, id, message string) error {
	status, failure := statusSucceeded, (*string)(nil)
	if message != "" {
		status, failure = statusFailed, &message
	}
	if _, err := db.Exec(ctx, `
		UPDATE imports SET status = $3, failure = $4, staging_key = NULL, finished_at = now(), updated_at = now()
		WHERE id = $1 AND user_id = $2 AND status IN ('queued', 'running')`, id, userID, status, failure); err != nil {
		return fmt.Errorf("finish import: %w", store.Translate(err))
	}
	return nil
}

// recorded is an item an import created (or found already there) before.
type recorded struct {
	importID string
	targetID string
}

// recordedItems returns which of the source ids of kind the user has imported before,
// by source id.
func recordedItems(ctx context.Context, db store.DBTX, userID, kind, source string, ids []string) (map[string]recorded, error) {
	rows, err := db.Query(ctx, `
		SELECT source_id, import_id::text, target_id::text FROM import_items
		WHERE user_id = $1 AND kind = $2 AND source = $3 AND source_id = ANY($4::text[])`, userID, kind, source, ids)
	if err != nil {
		return nil, fmt.Errorf("recorded items: %w", store.Translate(err))
	}
	out := map[string]recorded{}
	var sid string
	var rec recorded
	_, err = pgx.ForEachRow(rows, []any{&sid, &rec.importID, &rec.targetID}, func() error {
		out[sid] = rec
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("recorded items: %w", store.Translate(err))
	}
	return out, nil
}

// recordItem records what the import made of a source item, in the transaction that made
// it.
func recordItem(ctx context.Context, db store.DBTX, userID, kind, source, sourceID, importID, targetID string) error {
	if _, err := db.Exec(ctx, `
		INSERT INTO import_items (user_id, kind, source, source_id, import_id, target_id)
		VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT DO NOTHING`, userID, kind, source, sourceID, importID, targetID); err != nil {
		return fmt.Errorf("record import item: %w", store.Translate(err))
	}
	return nil
}

// recordItems records what the import made of several source items of one kind at once
// (sourceIDs[i] became targetIDs[i]), in the transaction that made them: one statement
// for a whole batch.
func recordItems(ctx context.Context, db store.DBTX, userID, kind, source, importID string, sourceIDs, targetIDs []string) error {
	if len(sourceIDs) == 0 {
		return nil
	}
	if _, err := db.Exec(ctx, `
		INSERT INTO import_items (user_id, kind, source, source_id, import_id, target_id)
		SELECT $1, $2, $3, s, $4, t FROM unnest($5::text[], $6::uuid[]) AS u(s, t)
		ON CONFLICT DO NOTHING`, userID, kind, source, importID, sourceIDs, targetIDs); err != nil {
		return fmt.Errorf("record import items: %w", store.Translate(err))
	}
	return nil
}
