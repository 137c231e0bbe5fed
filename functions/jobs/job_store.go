package jobs

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/xmojo/diary/shared/keyset"
	"github.com/xmojo/diary/shared/store"
)

// jobRow is a row of the jobs table as a user may see it.
type jobRow struct {
	ID         string          `db:"id"`
	Kind       string          `db:"kind"`
	Status     string          `db:"status"`
	Progress   int16           `db:"progress"`
	Error      *string         `db:"error"`
	Result     json.RawMessage `db:"result"`
	CreatedAt  time.Time       `db:"created_at"`
	FinishedAt *time.Time      `db:"finished_at"`
}

// jobColumns are the columns jobRow is read from.
const jobColumns = `id::text, kind, status, progress, error, result, created_at, finished_at`

// getJob returns the user's job id, or store.ErrNotFound when it does not exist or is
// someone else's (system jobs have no user and are never found).
func getJob(ctx context.Context, db store.DBTX, userID, id string) (jobRow, error) {
	rows, err := db.Query(ctx, `SELECT `+jobColumns+` FROM jobs WHERE id = $1 AND user_id = $2`, id, userID)
	if err != nil {
		return jobRow{}, fmt.Errorf("jobs: get job: %w", store.Translate(err))
	}
	j, err := pgx.CollectExactlyOneRow(rows, pgx.RowToStructByName[jobRow])
	if err != nil {
		return jobRow{}, fmt.Errorf("jobs: get job: %w", store.Translate(err))
	}
	return j, nil
}

// listFilter selects a page of a user's jobs, newest first.
type listFilter struct {
	kind  string
	limit int
	after *keyset.Position
}

// listJobs returns up to f.limit+1 of the user's jobs after the cursor, newest first
// (keyset on created_at, id; index jobs_user_created_idx).
func listJobs(ctx context.Context, db store.DBTX, userID string, f listFilter) ([]jobRow, error) {
	args := []any{userID, f.limit + 1}
	where := `user_id = $1`
	if f.kind != "" {
		args = append(args, f.kind)
		where += fmt.Sprintf(` AND kind = $%d`, len(args))
	}
	if f.after != nil {
		args = append(args, f.after.At, f.after.ID)
		where += fmt.Sprintf(` AND (created_at, id) < ($%d, $%d::uuid)`, len(args)-1, len(args))
	}
	rows, err := db.Query(ctx, `SELECT `+jobColumns+` FROM jobs WHERE `+where+`
		ORDER BY created_at DESC, id DESC LIMIT $2`, args...)
	if err != nil {
		return nil, fmt.Errorf("jobs: list jobs: %w", store.Translate(err))
	}
	jobs, err := pgx.CollectRows(rows, pgx.RowToStructByName[jobRow])
	if err != nil {
		return nil, fmt.Errorf("jobs: list jobs: %w", store.Translate(err))
	}
	return jobs, nil
}
