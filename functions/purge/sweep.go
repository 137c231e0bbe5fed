package purge

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/xmojo/diary/shared/store"
)

// sweepLimit bounds how many accounts one tick purges; the next tick takes the rest.
const sweepLimit = 100

// sweep purges the accounts marked deleted more than SweepAfter ago: those whose
// account.deleted event was lost or dead-lettered, or whose purge failed for good. Each
// is purged as the event would have, with the purge job its deletion queued.
func (f *Function) sweep(ctx context.Context, logger *slog.Logger) error {
	rows, err := f.db.Query(ctx, `
		SELECT u.id::text,
		       coalesce((SELECT j.id::text FROM jobs j WHERE j.user_id = u.id AND j.kind = 'account_purge'
		                 ORDER BY j.created_at DESC LIMIT 1), '')
		FROM users u
		WHERE u.deleted_at IS NOT NULL AND u.deleted_at < now() - make_interval(secs => $1)
		ORDER BY u.deleted_at LIMIT $2`, f.cfg.SweepAfter.Seconds(), sweepLimit)
	if err != nil {
		return fmt.Errorf("purge: sweep: %w", store.Translate(err))
	}
	type pending struct{ userID, jobID string }
	list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (pending, error) {
		var p pending
		return p, r.Scan(&p.userID, &p.jobID)
	})
	if err != nil {
		return fmt.Errorf("purge: sweep: %w", store.Translate(err))
	}
	var errs []error
	for _, p := range list {
		res, err := f.purge(ctx, p.userID, p.jobID)
		if err := f.report(logger.With("sweep", true), p.userID, res, err); err != nil {
			errs = append(errs, err)
		}
	}
	if len(list) > 0 {
		logger.Info("purge sweep done", "accounts", len(list), "failed", len(errs), "older_than", f.cfg.SweepAfter.Round(time.Second).String())
	}
	return errors.Join(errs...)
}
