package janitor

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/xmojo/diary/shared/store"
)

// expireUploads marks uploads left pending since before cutoff as deleted, so the next
// step removes their objects (if the client sent any bytes) and rows. Marking first, in
// the database, means an upload completed at the last moment is either completed (and
// kept) or deleted, never both: the row lock orders the two updates.
func (r *run) expireUploads(ctx context.Context, cutoff time.Time) error {
	for {
		var n int
		err := store.Transact(ctx, r.f.db, func(tx pgx.Tx) error {
			rows, err := tx.Query(ctx, `
				UPDATE media SET deleted_at = LEAST(upload_expires_at, $1)
				 WHERE id IN (SELECT id FROM media
				               WHERE status = 'pending' AND deleted_at IS NULL AND created_at < $1
				               ORDER BY created_at, id
				               LIMIT $2
				               FOR UPDATE SKIP LOCKED)
				RETURNING user_id::text`, cutoff, r.f.cfg.BatchSize)
			if err != nil {
				return fmt.Errorf("expire uploads: %w", store.Translate(err))
			}
			users, err := pgx.CollectRows(rows, pgx.RowTo[string])
			if err != nil {
				return fmt.Errorf("expire uploads: %w", store.Translate(err))
			}
			n = len(users)
			perUser := map[string]counts{}
			for _, u := range users {
				c := perUser[u]
				c.UploadsExpired++
				perUser[u] = c
				r.users[u] = true
			}
			return r.record(ctx, tx, perUser)
		})
		if err != nil {
			return err
		}
		r.res.UploadsExpired += int64(n)
		if n < r.f.cfg.BatchSize {
			return nil
		}
	}
}

type deletedMedia struct {
	ID        string `db:"id"`
	UserID    string `db:"user_id"`
	ObjectKey string `db:"object_key"`
}

// removeDeletedMedia removes the objects of media deleted before cutoff, then their rows.
// Objects go first: a run that dies between the two finds the rows again and deletes
// objects that are already gone, which S3 answers with success.
func (r *run) removeDeletedMedia(ctx context.Context, cutoff time.Time) error {
	for {
		rows, err := r.f.db.Query(ctx, `
			SELECT id::text, user_id::text, object_key FROM media
			 WHERE deleted_at < $1
			 ORDER BY deleted_at, id
			 LIMIT $2`, cutoff, r.f.cfg.BatchSize)
		if err != nil {
			return fmt.Errorf("list deleted media: %w", store.Translate(err))
		}
		batch, err := pgx.CollectRows(rows, pgx.RowToStructByName[deletedMedia])
		if err != nil {
			return fmt.Errorf("list deleted media: %w", store.Translate(err))
		}
		if len(batch) == 0 {
			return nil
		}
		ids := make([]string, len(batch))
		for i, m := range batch {
			if err := r.f.objects.Delete(ctx, m.ObjectKey); err != nil {
				return fmt.Errorf("remove object of media %s: %w", m.ID, err)
			}
			ids[i] = m.ID
		}
		var removed int
		err = store.Transact(ctx, r.f.db, func(tx pgx.Tx) error {
			rows, err := tx.Query(ctx, `
				DELETE FROM media WHERE id = ANY($1::uuid[]) AND deleted_at < $2
				RETURNING user_id::text`, ids, cutoff)
			if err != nil {
				return fmt.Errorf("delete media rows: %w", store.Translate(err))
			}
			users, err := pgx.CollectRows(rows, pgx.RowTo[string])
			if err != nil {
				return fmt.Errorf("delete media rows: %w", store.Translate(err))
			}
			removed = len(users)
			perUser := map[string]counts{}
			for _, u := range users {
				c := perUser[u]
				c.MediaRemoved++
				perUser[u] = c
				r.users[u] = true
			}
			return r.record(ctx, tx, perUser)
		})
		if err != nil {
			return err
		}
		if removed == 0 {
			return fmt.Errorf("delete media rows: none of %d rows could be deleted", len(batch))
		}
		r.res.MediaRemoved += int64(removed)
		if len(batch) < r.f.cfg.BatchSize {
			return nil
		}
	}
}
