package janitor

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/xmojo/diary/shared/metrics"
	"github.com/xmojo/diary/shared/objstore"
	"github.com/xmojo/diary/shared/store"
)

// consumer is the janitor's name in processed_events.
const consumer = "janitor"

// runLock is the advisory lock key that lets one cleanup run at a time.
const runLock = 0x6a616e69 // "jani"

// mediaDeleteGrace keeps a deleted media's object for as long as a download URL handed out
// just before the delete stays valid.
const mediaDeleteGrace = objstore.MaxTTL

// errAlreadyDone is returned for an event whose run has finished before.
var errAlreadyDone = errors.New("janitor: event already handled")

// errBusy is returned when another cleanup run holds the lock.
var errBusy = errors.New("janitor: another cleanup run is in progress")

// jobNamespace derives the ids of a run's jobs from the event id, so a redelivery finds
// the run (and each user's child job) it started before.
var jobNamespace = uuid.MustParse("5b0b7a52-3f0e-4d8e-9a51-7c1e52f5d6a1")

func runJobID(eventID string) string {
	return uuid.NewSHA1(jobNamespace, []byte("cleanup:"+eventID)).String()
}

func userJobID(runID, userID string) string {
	return uuid.NewSHA1(jobNamespace, []byte(runID+":"+userID)).String()
}

// runResult sums up a run for the log line.
type runResult struct {
	RunID                  string
	EntriesPurged          int64
	MediaRemoved           int64
	UploadsExpired         int64
	ImportsExpired         int64
	Users                  int
	IdempotencyKeysExpired int64
	JobsPurged             int64
	ProcessedEventsPurged  int64
	OutboxEventsPurged     int64
}

// run is one cleanup run: its job id, the event it answers and its reference time, from
// which every cut-off is computed, so a resumed run removes exactly what the first
// attempt would have.
type run struct {
	f       *Function
	id      string
	eventID string
	ref     time.Time
	res     runResult
	users   map[string]bool
}

// cleanup runs (or resumes) the cleanup for the event, with at as a new run's reference
// time (already checked against the clock: see referenceTime) and now the clock's time.
// It returns errAlreadyDone when the event's run has finished before.
func (f *Function) cleanup(ctx context.Context, logger *slog.Logger, eventID string, at, now time.Time) (runResult, error) {
	conn, err := f.db.Acquire(ctx)
	if err != nil {
		return runResult{}, fmt.Errorf("acquire connection: %w", store.Translate(err))
	}
	defer conn.Release()
	var locked bool
	if err := conn.QueryRow(ctx, `SELECT pg_try_advisory_lock($1)`, runLock).Scan(&locked); err != nil {
		return runResult{}, fmt.Errorf("lock: %w", store.Translate(err))
	}
	if !locked {
		return runResult{}, errBusy
	}
	defer func() {
		if _, err := conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, runLock); err != nil {
			// Closing the connection releases the lock.
			conn.Conn().Close(context.WithoutCancel(ctx))
		}
	}()

	r := &run{f: f, id: runJobID(eventID), eventID: eventID, users: map[string]bool{}}
	r.res.RunID = r.id
	ref, err := r.begin(ctx, at, now)
	if err != nil {
		return runResult{}, err
	}
	r.ref = ref
	if err := r.steps(ctx); err != nil {
		if ferr := r.fail(context.WithoutCancel(ctx)); ferr != nil {
			logger.Error("cleanup: recording the failure failed", "job_id", r.id, "error", ferr.Error())
		}
		return r.res, err
	}
	r.res.Users = len(r.users)
	return r.res, nil
}

func (r *run) steps(ctx context.Context) error {
	cfg := r.f.cfg
	pendingCutoff := r.ref.Add(-cfg.PendingUploadTTL)
	steps := []struct {
		progress int
		do       func(context.Context) error
	}{
		{20, func(ctx context.Context) error { return r.expireUploads(ctx, pendingCutoff) }},
		{30, func(ctx context.Context) error { return r.expireImports(ctx, pendingCutoff) }},
		{50, func(ctx context.Context) error { return r.removeDeletedMedia(ctx, r.ref.Add(-mediaDeleteGrace)) }},
		{80, func(ctx context.Context) error { return r.purgeEntries(ctx, r.ref.Add(-cfg.EntryRetention)) }},
		{95, r.housekeeping},
	}
	for _, s := range steps {
		if err := s.do(ctx); err != nil {
			return err
		}
		if err := r.setProgress(ctx, s.progress); err != nil {
			return err
		}
	}
	return r.finish(ctx)
}

// begin records the run as running (again, for a redelivery of a failed run) and returns
// its reference time: at for a new run, the first attempt's for a resumed one, and in
// either case never later than now (a run recorded before the janitor had its own clock
// may hold a reference time from a sender's future).
func (r *run) begin(ctx context.Context, at, now time.Time) (time.Time, error) {
	var ref time.Time
	err := store.Transact(ctx, r.f.db, func(tx pgx.Tx) error {
		var done bool
		err := tx.QueryRow(ctx, `
			SELECT EXISTS (SELECT 1 FROM processed_events WHERE consumer = $1 AND event_id = $2)`,
			consumer, r.eventID).Scan(&done)
		if err != nil {
			return fmt.Errorf("check processed: %w", store.Translate(err))
		}
		if done {
			return errAlreadyDone
		}
		err = tx.QueryRow(ctx, `
			INSERT INTO jobs (id, user_id, kind, status, result, started_at)
			VALUES ($1, NULL, 'cleanup', 'running', jsonb_build_object('reference_time', $2::timestamptz), now())
			ON CONFLICT (id) DO UPDATE
			   SET status = 'running', error = NULL, finished_at = NULL, updated_at = now()
			RETURNING LEAST((result->>'reference_time')::timestamptz, $3::timestamptz)`,
			r.id, at.UTC(), now.UTC()).Scan(&ref)
		if err != nil {
			return fmt.Errorf("start run job: %w", store.Translate(err))
		}
		_, err = tx.Exec(ctx, `
			UPDATE jobs SET status = 'running', error = NULL, finished_at = NULL, updated_at = now()
			 WHERE parent_id = $1 AND status = 'failed'`, r.id)
		if err != nil {
			return fmt.Errorf("resume user jobs: %w", store.Translate(err))
		}
		return nil
	})
	return ref, err
}

// counts is what one step did to one user's data.
type counts struct {
	EntriesPurged  int64
	MediaRemoved   int64
	UploadsExpired int64
}

// record adds per-user counts to the users' child jobs and the run's totals, inside the
// transaction of the step's deletes, so the totals stay exact when a run is resumed.
func (r *run) record(ctx context.Context, tx pgx.Tx, perUser map[string]counts) error {
	var total counts
	for userID, c := range perUser {
		_, err := tx.Exec(ctx, `
			INSERT INTO jobs (id, user_id, parent_id, kind, status, result, started_at)
			VALUES ($1, $2, $3, 'cleanup', 'running',
			        jsonb_build_object('entries_purged', $4::bigint, 'media_removed', $5::bigint,
			                           'uploads_expired', $6::bigint),
			        now())
			ON CONFLICT (id) DO UPDATE SET
			    result = jobs.result || jsonb_build_object(
			        'entries_purged', COALESCE((jobs.result->>'entries_purged')::bigint, 0) + $4,
			        'media_removed', COALESCE((jobs.result->>'media_removed')::bigint, 0) + $5,
			        'uploads_expired', COALESCE((jobs.result->>'uploads_expired')::bigint, 0) + $6),
			    updated_at = now()`,
			userJobID(r.id, userID), userID, r.id, c.EntriesPurged, c.MediaRemoved, c.UploadsExpired)
		if err != nil {
			return fmt.Errorf("record user job: %w", store.Translate(err))
		}
		total.EntriesPurged += c.EntriesPurged
		total.MediaRemoved += c.MediaRemoved
		total.UploadsExpired += c.UploadsExpired
	}
	return r.addTotals(ctx, tx, map[string]int64{
		"entries_purged": total.EntriesPurged, "media_removed": total.MediaRemoved, "uploads_expired": total.UploadsExpired,
	})
}

// addTotals adds to counters in the run job's result.
func (r *run) addTotals(ctx context.Context, tx pgx.Tx, add map[string]int64) error {
	for key, n := range add {
		if n == 0 {
			continue
		}
		_, err := tx.Exec(ctx, `
			UPDATE jobs
			   SET result = result || jsonb_build_object($2::text, COALESCE((result->>$2)::bigint, 0) + $3),
			       updated_at = now()
			 WHERE id = $1`, r.id, key, n)
		if err != nil {
			return fmt.Errorf("add run totals: %w", store.Translate(err))
		}
	}
	return nil
}

func (r *run) setProgress(ctx context.Context, progress int) error {
	_, err := r.f.db.Exec(ctx, `
		UPDATE jobs SET progress = $2, updated_at = now() WHERE id = $1 OR parent_id = $1`, r.id, progress)
	if err != nil {
		return fmt.Errorf("set progress: %w", store.Translate(err))
	}
	return nil
}

// finish marks the run and its users' jobs succeeded and records the event as handled,
// in one transaction: after it, a redelivery does nothing.
func (r *run) finish(ctx context.Context) error {
	err := store.Transact(ctx, r.f.db, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `
			UPDATE jobs SET status = 'succeeded', progress = 100, error = NULL, finished_at = now(), updated_at = now()
			 WHERE id = $1 OR parent_id = $1`, r.id)
		if err != nil {
			return fmt.Errorf("finish run: %w", store.Translate(err))
		}
		_, err = tx.Exec(ctx, `
			INSERT INTO processed_events (consumer, event_id, event_type) VALUES ($1, $2, 'dev.knative.sources.ping')
			ON CONFLICT (consumer, event_id) DO NOTHING`, consumer, r.eventID)
		if err != nil {
			return fmt.Errorf("record processed event: %w", store.Translate(err))
		}
		return nil
	})
	if err == nil {
		metrics.JobSucceeded("cleanup") // the kind of the run's jobs (begin)
	}
	return err
}

// fail marks the run and its users' jobs failed with a message fit for users; the
// Broker's retry of the same event sets them running again.
func (r *run) fail(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	_, err := r.f.db.Exec(ctx, `
		UPDATE jobs SET status = 'failed', error = 'the cleanup did not finish; it is retried automatically',
		       finished_at = now(), updated_at = now()
		 WHERE (id = $1 OR parent_id = $1) AND status <> 'succeeded'`, r.id)
	if err != nil {
		return fmt.Errorf("fail run: %w", store.Translate(err))
	}
	return nil
}
