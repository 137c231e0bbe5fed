package janitor

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/xmojo/diary/shared/store"
)

// expireUploads marks uploads that are still pending although their upload URL expired
// before cutoff (the run's reference time less PENDING_UPLOAD_TTL, the grace that lets an
// upload in flight at the URL's expiry finish and be completed) as deleted, so the next
// step removes their objects (if the client sent any bytes) and rows. Until then such an
// upload counts against its user's quota. The row's deleted_at is its URL's expiry, so the
// same run removes it whenever the grace is at least mediaDeleteGrace. Marking first, in
// the database, means an upload completed at the last moment is either completed (and
// kept) or deleted, never both: the row lock orders the two updates.
func (r *run) expireUploads(ctx context.Context, cutoff time.Time) error {
	for {
		var n int
		err := store.Transact(ctx, r.f.db, func(tx pgx.Tx) error {
			rows, err := tx.Query(ctx, `
				UPDATE media SET deleted_at = upload_expires_at
				 WHERE id IN (SELECT id FROM media
				               WHERE status = 'pending' AND deleted_at IS NULL AND upload_expires_at < $1
				               ORDER BY upload_expires_at, id
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
	// LastReference is true when no other row needs the object: every row that refers to
	// it was deleted before the cut-off too. Rows made by deduplication share one object.
	LastReference bool `db:"last_reference"`
}

// removeDeletedMedia removes the rows of media deleted before cutoff and the objects that
// no other row needs any more: an object shared by several rows (deduplication across
// entries) stays while any of them is undeleted, or deleted too recently for its download
// URLs to have expired. Objects go first: a run that dies between the two finds the rows
// again and deletes objects that are already gone, which S3 answers with success. No row
// can start referring to an object once all its rows are deleted: deduplication shares
// only the objects of undeleted rows, and locks the row it shares from (FOR SHARE) until
// the new row is committed.
func (r *run) removeDeletedMedia(ctx context.Context, cutoff time.Time) error {
	for {
		rows, err := r.f.db.Query(ctx, `
			SELECT m.id::text, m.user_id::text, m.object_key,
			       NOT EXISTS (SELECT 1 FROM media o
			                    WHERE o.object_key = m.object_key AND o.id <> m.id
			                      AND (o.deleted_at IS NULL OR o.deleted_at >= $1)) AS last_reference
			  FROM media m
			 WHERE m.deleted_at < $1
			 ORDER BY m.deleted_at, m.id
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
		removed := map[string]bool{}
		for i, m := range batch {
			ids[i] = m.ID
			if !m.LastReference || removed[m.ObjectKey] {
				continue
			}
			if err := r.f.objects.Delete(ctx, m.ObjectKey); err != nil {
				return fmt.Errorf("remove object of media %s: %w", m.ID, err)
			}
			removed[m.ObjectKey] = true
		}
		var n int
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
			n = len(users)
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
		if n == 0 {
			return fmt.Errorf("delete media rows: none of %d rows could be deleted", len(batch))
		}
		r.res.MediaRemoved += int64(n)
		if len(batch) < r.f.cfg.BatchSize {
			return nil
		}
	}
}
