package archive

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/xmojo/diary/shared/store"
)

// entryRow is an entry as the export reads it. The entries table belongs to the entries
// function; the export only reads the caller's own rows, in its snapshot, and writes
// nothing (docs/architecture.md).
type entryRow struct {
	ID         string
	TitleCT    []byte
	ContentCT  []byte
	Ciphertext []byte
	// CiphertextFormat is NULL for the client's own envelope, intake.Format for an intake
	// box delivered to an e2e account.
	CiphertextFormat *string
	// IntakeBox is a uce entry still pending redemption (shared/intake).
	IntakeBox   []byte
	BodyVersion int
	Mood        *string
	Source      string
	OccurredAt  time.Time
	CreatedAt   time.Time
	UpdatedAt   time.Time
	DeletedAt   *time.Time
	Version     int
	Tags        []string
}

// entryBatchSize is how many entries one query of the export reads: at most about
// 1 MiB of ciphertext each, so a batch stays within a few hundred MiB at the very worst
// and a few hundred KiB for a usual diary.
const entryBatchSize = 200

// entryCursor is a position in the export's order, (occurred_at, id) ascending.
type entryCursor struct {
	at time.Time
	id string
}

// entryBatch returns up to limit of the user's entries after the cursor (nil: from the
// first), oldest occurred_at first: the live ones, or with deleted the soft-deleted ones.
func entryBatch(ctx context.Context, db store.DBTX, userID string, deleted bool, after *entryCursor, limit int) ([]entryRow, error) {
	args := []any{userID, deleted, limit}
	cond := ""
	if after != nil {
		cond = "AND (e.occurred_at, e.id) > ($4, $5::uuid)"
		args = append(args, after.at, after.id)
	}
	rows, err := db.Query(ctx, `
		SELECT e.id, e.title_ct, e.content_ct, e.ciphertext, e.ciphertext_format, e.intake_box, e.body_version, e.mood, e.source,
		       e.occurred_at, e.created_at, e.updated_at, e.deleted_at, e.version, e.tags
		FROM entries e
		WHERE e.user_id = $1 AND (e.deleted_at IS NOT NULL) = $2 `+cond+`
		ORDER BY e.occurred_at, e.id
		LIMIT $3`, args...)
	if err != nil {
		return nil, fmt.Errorf("archive: read entries: %w", store.Translate(err))
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (entryRow, error) {
		var e entryRow
		err := row.Scan(&e.ID, &e.TitleCT, &e.ContentCT, &e.Ciphertext, &e.CiphertextFormat, &e.IntakeBox, &e.BodyVersion, &e.Mood, &e.Source,
			&e.OccurredAt, &e.CreatedAt, &e.UpdatedAt, &e.DeletedAt, &e.Version, &e.Tags)
		return e, err
	})
	if err != nil {
		return nil, fmt.Errorf("archive: read entries: %w", store.Translate(err))
	}
	return out, nil
}

// eachEntry calls fn with every batch of the user's live (or deleted) entries in order.
func eachEntry(ctx context.Context, db store.DBTX, userID string, deleted bool, fn func([]entryRow) error) error {
	var after *entryCursor
	for {
		batch, err := entryBatch(ctx, db, userID, deleted, after, entryBatchSize)
		if err != nil {
			return err
		}
		if len(batch) == 0 {
			return nil
		}
		if err := fn(batch); err != nil {
			return err
		}
		if len(batch) < entryBatchSize {
			return nil
		}
		last := batch[len(batch)-1]
		after = &entryCursor{at: last.OccurredAt, id: last.ID}
	}
}
