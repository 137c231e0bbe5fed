package janitor

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/xmojo/diary/eventing/outbox"
	"github.com/xmojo/diary/shared/store"
)

// housekeeping expires what only the system keeps: entry Idempotency-Keys past their
// 24 hours, handled event ids past any possible redelivery, and finished jobs nobody
// polls any more, and outbox rows delivered longer than OUTBOX_RETENTION ago. The run in
// progress is not finished, so it is never among them.
func (r *run) housekeeping(ctx context.Context) error {
	cfg := r.f.cfg
	steps := []struct {
		counter string
		sql     string
		cutoff  any
		total   *int64
	}{
		{"idempotency_keys_expired", `DELETE FROM entry_idempotency WHERE created_at < $1`,
			r.ref.Add(-cfg.IdempotencyKeyTTL), &r.res.IdempotencyKeysExpired},
		{"processed_events_purged", `DELETE FROM processed_events WHERE processed_at < $1`,
			r.ref.Add(-cfg.ProcessedEventRetention), &r.res.ProcessedEventsPurged},
		{"jobs_purged", `DELETE FROM jobs WHERE finished_at < $1`,
			r.ref.Add(-cfg.JobRetention), &r.res.JobsPurged},
	}
	for _, s := range steps {
		err := store.Transact(ctx, r.f.db, func(tx pgx.Tx) error {
			tag, err := tx.Exec(ctx, s.sql, s.cutoff)
			if err != nil {
				return fmt.Errorf("%s: %w", s.counter, store.Translate(err))
			}
			*s.total = tag.RowsAffected()
			return r.addTotals(ctx, tx, map[string]int64{s.counter: tag.RowsAffected()})
		})
		if err != nil {
			return err
		}
	}
	// Delivered outbox rows past OUTBOX_RETENTION, through the outbox's own package, in
	// batches: after an outage the table may hold many.
	cutoff := r.ref.Add(-cfg.OutboxRetention)
	for {
		var n int64
		err := store.Transact(ctx, r.f.db, func(tx pgx.Tx) error {
			var err error
			if n, err = outbox.DeleteDelivered(ctx, tx, cutoff, cfg.BatchSize); err != nil {
				return err
			}
			return r.addTotals(ctx, tx, map[string]int64{"outbox_events_purged": n})
		})
		if err != nil {
			return err
		}
		r.res.OutboxEventsPurged += n
		if n < int64(cfg.BatchSize) {
			return nil
		}
	}
}
