// Package job provides a user's background job as GET /api/v1/jobs/{id} shows it: queued
// by the call that asks for the work, run by the consumer of the event that call emits,
// with progress, a result of counts and ids, and on failure a message fit for the user.
// Every function that runs a user's work writes its job through this package, so the
// jobs table's rules (migration 0004) are kept one way. The consumer's event deduplication
// (processed_events) is here too: Handled and MarkHandled.
package job

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/xmojo/diary/shared/metrics"
	"github.com/xmojo/diary/shared/store"
)

// ErrNotFound is returned for a job id that is not the user's (or does not exist).
var ErrNotFound = errors.New("job: not found")

// Status values, as the jobs API answers them.
const (
	Queued    = "queued"
	Running   = "running"
	Succeeded = "succeeded"
	Failed    = "failed"
)

// Job is one row of a user's job.
type Job struct {
	ID       string
	UserID   string
	Kind     string
	Status   string
	Progress int
	Error    *string
	Result   map[string]any
}

// Queue inserts a queued job of kind for the user and returns its id. Call it in the
// transaction that records the request, before the event that starts the work is emitted.
func Queue(ctx context.Context, db store.DBTX, userID, kind string) (string, error) {
	id := uuid.NewString()
	if _, err := db.Exec(ctx, `INSERT INTO jobs (id, user_id, kind, status) VALUES ($1, $2, $3, 'queued')`,
		id, userID, kind); err != nil {
		return "", fmt.Errorf("job: queue %s: %w", kind, store.Translate(err))
	}
	return id, nil
}

// Get reads the user's job. Another user's job is ErrNotFound.
func Get(ctx context.Context, db store.DBTX, userID, id string) (Job, error) {
	if _, err := uuid.Parse(id); err != nil {
		return Job{}, ErrNotFound
	}
	j := Job{ID: id, UserID: userID}
	var result []byte
	err := db.QueryRow(ctx, `
		SELECT kind, status, progress, error, result FROM jobs WHERE id = $1 AND user_id = $2`,
		id, userID).Scan(&j.Kind, &j.Status, &j.Progress, &j.Error, &result)
	if errors.Is(err, pgx.ErrNoRows) {
		return Job{}, ErrNotFound
	}
	if err != nil {
		return Job{}, fmt.Errorf("job: get: %w", store.Translate(err))
	}
	if err := json.Unmarshal(result, &j.Result); err != nil {
		return Job{}, fmt.Errorf("job: get: result: %w", err)
	}
	return j, nil
}

// Start marks the job running (again, for a redelivered event resuming it). A finished
// job is left as it is; started reports whether the job is now running, so a consumer
// given a finished job's event does nothing.
func Start(ctx context.Context, db store.DBTX, userID, id string) (started bool, err error) {
	tag, err := db.Exec(ctx, `
		UPDATE jobs SET status = 'running', started_at = COALESCE(started_at, now()), updated_at = now()
		WHERE id = $1 AND user_id = $2 AND status IN ('queued', 'running')`, id, userID)
	if err != nil {
		return false, fmt.Errorf("job: start: %w", store.Translate(err))
	}
	return tag.RowsAffected() == 1, nil
}

// Progress records how far a running job is (0 to 100) and merges counts into its result
// (values are replaced key by key; nil merges nothing). Counts and ids only: never user
// content.
func Progress(ctx context.Context, db store.DBTX, id string, percent int, result map[string]any) error {
	percent = max(0, min(percent, 100))
	merge, err := json.Marshal(nonNil(result))
	if err != nil {
		return fmt.Errorf("job: progress: %w", err)
	}
	if _, err := db.Exec(ctx, `
		UPDATE jobs SET progress = $2, result = result || $3::jsonb, updated_at = now()
		WHERE id = $1 AND status = 'running'`, id, percent, merge); err != nil {
		return fmt.Errorf("job: progress: %w", store.Translate(err))
	}
	return nil
}

// Succeed finishes the job, merging result into what it recorded.
func Succeed(ctx context.Context, db store.DBTX, id string, result map[string]any) error {
	merge, err := json.Marshal(nonNil(result))
	if err != nil {
		return fmt.Errorf("job: succeed: %w", err)
	}
	var kind string
	err = db.QueryRow(ctx, `
		UPDATE jobs SET status = 'succeeded', progress = 100, error = NULL, result = result || $2::jsonb,
		       finished_at = now(), updated_at = now()
		WHERE id = $1 AND status IN ('queued', 'running')
		RETURNING kind`, id, merge).Scan(&kind)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil // already finished: nothing changed
	}
	if err != nil {
		return fmt.Errorf("job: succeed: %w", store.Translate(err))
	}
	metrics.JobSucceeded(kind)
	return nil
}

// Fail finishes the job as failed with message, which the user reads: words fit for
// them (what to do next), never internal error text, at most 500 characters.
func Fail(ctx context.Context, db store.DBTX, id, message string) error {
	if r := []rune(message); len(r) > 500 {
		message = string(r[:500])
	}
	var kind string
	err := db.QueryRow(ctx, `
		UPDATE jobs SET status = 'failed', error = $2, finished_at = now(), updated_at = now()
		WHERE id = $1 AND status IN ('queued', 'running')
		RETURNING kind`, id, message).Scan(&kind)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil // already finished: nothing changed
	}
	if err != nil {
		return fmt.Errorf("job: fail: %w", store.Translate(err))
	}
	metrics.JobFailed(kind)
	return nil
}

// Handled reports whether consumer has fully handled the event id already
// (processed_events): a second delivery is acknowledged without acting on it.
func Handled(ctx context.Context, db store.DBTX, consumer, eventID string) (bool, error) {
	var ok bool
	if err := db.QueryRow(ctx, `
		SELECT EXISTS (SELECT 1 FROM processed_events WHERE consumer = $1 AND event_id = $2)`,
		consumer, eventID).Scan(&ok); err != nil {
		return false, fmt.Errorf("job: handled: %w", store.Translate(err))
	}
	return ok, nil
}

// MarkHandled records that consumer has fully handled the event, in the transaction of
// its last write. Recording it twice is harmless.
func MarkHandled(ctx context.Context, db store.DBTX, consumer, eventID, eventType string) error {
	if _, err := db.Exec(ctx, `
		INSERT INTO processed_events (consumer, event_id, event_type) VALUES ($1, $2, $3)
		ON CONFLICT (consumer, event_id) DO NOTHING`, consumer, eventID, eventType); err != nil {
		return fmt.Errorf("job: mark handled: %w", store.Translate(err))
	}
	return nil
}

func nonNil(m map[string]any) map[string]any {
	if m == nil {
		return map[string]any{}
	}
	return m
}
