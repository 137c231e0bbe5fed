package janitor

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/xmojo/diary/shared/store"
	"github.com/xmojo/diary/shared/userlock"
)

type purgeBatch struct {
	UserID   string   `db:"user_id"`
	EntryIDs []string `db:"entry_ids"`
}

// purgeEntries deletes the entries soft-deleted before cutoff, with their tag names (on the
// row itself), history and idempotency keys (ON DELETE CASCADE); media attached to them
// stay the user's, unattached (ON DELETE SET NULL), and are removed only when the user
// deletes them. Each user's entries are deleted under that user's entry write lock
// (userlock.Entries), the lock every entry writer takes first, and re-checked there, so an
// entry restored in the meantime is kept.
func (r *run) purgeEntries(ctx context.Context, cutoff time.Time) error {
	for {
		rows, err := r.f.db.Query(ctx, `
			SELECT user_id::text, array_agg(id::text) AS entry_ids
			  FROM (SELECT id, user_id FROM entries
			         WHERE deleted_at < $1
			         ORDER BY deleted_at, id
			         LIMIT $2) due
			 GROUP BY user_id`, cutoff, r.f.cfg.BatchSize)
		if err != nil {
			return fmt.Errorf("list purgeable entries: %w", store.Translate(err))
		}
		batches, err := pgx.CollectRows(rows, pgx.RowToStructByName[purgeBatch])
		if err != nil {
			return fmt.Errorf("list purgeable entries: %w", store.Translate(err))
		}
		if len(batches) == 0 {
			return nil
		}
		listed, purged := 0, int64(0)
		for _, b := range batches {
			listed += len(b.EntryIDs)
			n, err := r.purgeUserEntries(ctx, b, cutoff)
			if err != nil {
				return err
			}
			purged += n
		}
		r.res.EntriesPurged += purged
		if purged == 0 {
			// Every listed entry was restored meanwhile; the next list would differ.
			continue
		}
		if listed < r.f.cfg.BatchSize {
			return nil
		}
	}
}

// purgeUserEntries deletes one user's listed entries that are still due, under the user's
// entry write lock: a restore that commits first takes its entry out of the delete, and
// one that waits for the lock finds the entry gone (404). It returns how many it deleted.
func (r *run) purgeUserEntries(ctx context.Context, b purgeBatch, cutoff time.Time) (int64, error) {
	var c counts
	err := store.Transact(ctx, r.f.db, func(tx pgx.Tx) error {
		if _, err := userlock.Lock(ctx, tx, b.UserID, userlock.Entries); err != nil {
			return fmt.Errorf("purge entries: %w", err)
		}
		tag, err := tx.Exec(ctx, `
			DELETE FROM entries WHERE user_id = $1 AND id = ANY($2::uuid[]) AND deleted_at < $3`,
			b.UserID, b.EntryIDs, cutoff)
		if err != nil {
			return fmt.Errorf("purge entries: %w", store.Translate(err))
		}
		c.EntriesPurged = tag.RowsAffected()
		if c.EntriesPurged == 0 {
			return nil
		}
		r.users[b.UserID] = true
		return r.record(ctx, tx, map[string]counts{b.UserID: c})
	})
	if err != nil {
		return 0, err
	}
	return c.EntriesPurged, nil
}
