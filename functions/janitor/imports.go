package janitor

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/xmojo/diary/shared/store"
)

// The messages an import the janitor ends gives its user.
const (
	importNeverStarted = "the zip was not uploaded and started in time; create a new import"
	importStalled      = "the import stopped and did not resume; start a new import of the same file: what was imported is kept and is not imported twice"
)

type staleImport struct {
	ID         string  `db:"id"`
	UserID     string  `db:"user_id"`
	StagingKey *string `db:"staging_key"`
	JobID      *string `db:"job_id"`
	Stalled    bool    `db:"stalled"`
}

// expireImports ends the imports whose zip waits in staging with nobody left to use it
// (functions/archive and functions/importer, migration 0012): an upload never started
// (awaiting_upload, its URL expired before cutoff, the same grace as a media upload's),
// and an import whose event the Broker gave up on (queued or running, untouched since
// cutoff: the importer records every batch, so a live import is never that quiet). The
// staging object goes first, then the import is marked failed with a message for its
// user (and its job, if any): a run that dies in between finds the import again, and
// deleting a missing object succeeds. Staging objects have no media row, so the media
// steps never see them.
func (r *run) expireImports(ctx context.Context, cutoff time.Time) error {
	for {
		rows, err := r.f.db.Query(ctx, `
			SELECT id, user_id, staging_key, job_id, status <> 'awaiting_upload' AS stalled
			  FROM imports
			 WHERE (status = 'awaiting_upload' AND upload_expires_at < $1)
			    OR (status IN ('queued', 'running') AND updated_at < $1)
			 ORDER BY created_at, id
			 LIMIT $2`, cutoff, r.f.cfg.BatchSize)
		if err != nil {
			return fmt.Errorf("list stale imports: %w", store.Translate(err))
		}
		batch, err := pgx.CollectRows(rows, pgx.RowToStructByName[staleImport])
		if err != nil {
			return fmt.Errorf("list stale imports: %w", store.Translate(err))
		}
		for _, imp := range batch {
			if imp.StagingKey != nil {
				if err := r.f.objects.Delete(ctx, *imp.StagingKey); err != nil {
					return fmt.Errorf("remove the staging object of import %s: %w", imp.ID, err)
				}
			}
			msg := importNeverStarted
			if imp.Stalled {
				msg = importStalled
			}
			err := store.Transact(ctx, r.f.db, func(tx pgx.Tx) error {
				// Re-checked: an import that moved on meanwhile is left alone.
				tag, err := tx.Exec(ctx, `
					UPDATE imports SET status = 'failed', failure = $3, staging_key = NULL,
					       finished_at = now(), updated_at = now()
					 WHERE id = $1 AND user_id = $2
					   AND ((status = 'awaiting_upload' AND upload_expires_at < $4)
					     OR (status IN ('queued', 'running') AND updated_at < $4))`,
					imp.ID, imp.UserID, msg, cutoff)
				if err != nil {
					return fmt.Errorf("expire import: %w", store.Translate(err))
				}
				if tag.RowsAffected() == 0 {
					return nil
				}
				if imp.JobID != nil {
					if _, err := tx.Exec(ctx, `
						UPDATE jobs SET status = 'failed', error = $2, finished_at = now(), updated_at = now()
						 WHERE id = $1 AND status IN ('queued', 'running')`, *imp.JobID, msg); err != nil {
						return fmt.Errorf("expire import job: %w", store.Translate(err))
					}
				}
				r.res.ImportsExpired++
				return r.addTotals(ctx, tx, map[string]int64{"imports_expired": 1})
			})
			if err != nil {
				return err
			}
		}
		if len(batch) < r.f.cfg.BatchSize {
			return nil
		}
	}
}
