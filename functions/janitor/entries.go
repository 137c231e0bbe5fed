package janitor

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/xmojo/diary/shared/store"
)

type purgeBatch struct {
	UserID   string   `db:"user_id"`
	EntryIDs []string `db:"entry_ids"`
}

// purgeEntries deletes the entries soft-deleted before cutoff. Their tag links, history
// and idempotency keys go with them (ON DELETE CASCADE); media attached to them stay the
// user's, unattached (ON DELETE SET NULL), and are removed only when the user deletes them.
// Each user's entries are deleted under that user's entry lock (entries_lock_user), the
// lock order every entry writer follows, and re-checked there, so an entry restored in
// the meantime is kept. The user's tags that no entry carries any more go in the same
// transaction: tag names are plaintext metadata, not to be kept once their entries are gone.
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
		listed, purged, tagsRemoved := 0, int64(0), int64(0)
		for _, b := range batches {
			listed += len(b.EntryIDs)
			c, err := r.purgeUserEntries(ctx, b, cutoff)
			if err != nil {
				return err
			}
			purged += c.EntriesPurged
			tagsRemoved += c.TagsRemoved
		}
		r.res.EntriesPurged += purged
		r.res.TagsRemoved += tagsRemoved
		if purged == 0 {
			// Every listed entry was restored meanwhile; the next list would differ.
			continue
		}
		if listed < r.f.cfg.BatchSize {
			return nil
		}
	}
}

// purgeUserEntries deletes one user's listed entries that are still due, then the user's
// tags left without any entry. Both happen under the user's entry lock, which every writer
// of tags and tag links takes too (the entries function links a create's or an update's
// tags under it): a tag cannot get a new link between the check and the delete, and a
// writer waiting for the lock finds the tag gone and creates it afresh. Tags of deleted
// entries still within retention keep their links, so a restored entry keeps its tags.
func (r *run) purgeUserEntries(ctx context.Context, b purgeBatch, cutoff time.Time) (counts, error) {
	var c counts
	err := store.Transact(ctx, r.f.db, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT entries_lock_user($1)`, b.UserID); err != nil {
			return fmt.Errorf("lock user entries: %w", store.Translate(err))
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
		tag, err = tx.Exec(ctx, `
			DELETE FROM tags t
			 WHERE t.user_id = $1
			   AND NOT EXISTS (SELECT 1 FROM entry_tags et WHERE et.tag_id = t.id)`,
			b.UserID)
		if err != nil {
			return fmt.Errorf("remove unused tags: %w", store.Translate(err))
		}
		c.TagsRemoved = tag.RowsAffected()
		r.users[b.UserID] = true
		return r.record(ctx, tx, map[string]counts{b.UserID: c})
	})
	if err != nil {
		return counts{}, err
	}
	return c, nil
}
