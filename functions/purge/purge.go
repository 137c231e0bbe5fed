package purge

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/xmojo/diary/eventing"
	"github.com/xmojo/diary/shared/job"
	"github.com/xmojo/diary/shared/store"
	"github.com/xmojo/diary/shared/userlock"
)

// errGone is a purge of an account with no users row: purged before (or never there).
var errGone = errors.New("purge: the account is gone")

// errNotDeleted is a purge of an account that is not marked deleted.
var errNotDeleted = errors.New("purge: the account is not marked deleted")

// result counts what one delivery removed.
type result struct {
	Entries, Media, Objects int64
}

// userPrefix is where a user's S3 objects live: the prefix of functions/media's object
// keys, u/<user id>/, which everything stored for a user uses.
func userPrefix(userID string) string { return "u/" + userID + "/" }

// purge removes every row and object of the deleted user, resuming where an earlier
// delivery stopped, and reports progress in jobID (may be empty: the sweep's purge of an
// account whose job is gone).
func (f *Function) purge(ctx context.Context, userID, jobID string) (result, error) {
	var res result
	// Only the canonical form: uuid.Parse also takes urn:uuid:..., which PostgreSQL refuses
	// (an error the Broker retried for ever), and upper case, which PostgreSQL takes but the
	// user's S3 prefix (u/<id>/) does not, so the objects would have stayed.
	if !eventing.ValidID(userID) {
		return res, errGone
	}
	var deleted bool
	err := f.db.QueryRow(ctx, `SELECT deleted_at IS NOT NULL FROM users WHERE id = $1`, userID).Scan(&deleted)
	if errors.Is(err, pgx.ErrNoRows) {
		return res, errGone
	}
	if err != nil {
		return res, fmt.Errorf("read the user: %w", store.Translate(err))
	}
	if !deleted {
		return res, errNotDeleted
	}
	if !eventing.ValidID(jobID) {
		jobID = ""
	}
	if jobID != "" {
		// A finished job (or none) is no reason to stop: the user's rows must go anyway.
		if _, err := job.Start(ctx, f.db, userID, jobID); err != nil {
			return res, err
		}
	}
	var total int64
	if err := f.db.QueryRow(ctx, `
		SELECT (SELECT count(*) FROM entries WHERE user_id = $1) + (SELECT count(*) FROM media WHERE user_id = $1)`,
		userID).Scan(&total); err != nil {
		return res, fmt.Errorf("count the user's rows: %w", store.Translate(err))
	}
	progress := func(ctx context.Context, tx pgx.Tx) error {
		if jobID == "" {
			return nil
		}
		pct := 95
		if total > 0 {
			pct = int(95 * (res.Entries + res.Media) / total)
		}
		return job.Progress(ctx, tx, jobID, pct, map[string]any{"entries_deleted": res.Entries, "media_deleted": res.Media})
	}
	// Entries first, under the user's entry lock as every entry writer (the janitor's purge
	// too), in batches so no transaction holds a large user's rows for long; then the media
	// rows, under the media lock (upload admissions take it).
	batches := []struct {
		lock  userlock.Class
		query string
		count *int64
	}{
		{userlock.Entries, `DELETE FROM entries WHERE id IN (SELECT id FROM entries WHERE user_id = $1 LIMIT $2)`, &res.Entries},
		{userlock.Media, `DELETE FROM media WHERE id IN (SELECT id FROM media WHERE user_id = $1 LIMIT $2)`, &res.Media},
	}
	for _, b := range batches {
		for {
			var n int64
			err := store.Transact(ctx, f.db, func(tx pgx.Tx) error {
				if _, err := userlock.Lock(ctx, tx, userID, b.lock); err != nil {
					return err
				}
				tag, err := tx.Exec(ctx, b.query, userID, f.cfg.BatchSize)
				if err != nil {
					return fmt.Errorf("delete a batch: %w", store.Translate(err))
				}
				n = tag.RowsAffected()
				*b.count += n
				return progress(ctx, tx)
			})
			if err != nil {
				return res, err
			}
			if n == 0 {
				break
			}
		}
	}
	// The objects, by prefix: those of rows deleted above and any no row refers to.
	objects, err := f.objects.DeletePrefix(ctx, userPrefix(userID))
	res.Objects = int64(objects)
	if err != nil {
		return res, fmt.Errorf("delete objects: %w", err)
	}
	// Last, the users row: the cascade removes every other row of the user, this job too.
	err = store.Transact(ctx, f.db, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM users WHERE id = $1 AND deleted_at IS NOT NULL`, userID); err != nil {
			return fmt.Errorf("delete the user: %w", store.Translate(err))
		}
		return nil
	})
	if err != nil {
		return res, err
	}
	return res, nil
}
