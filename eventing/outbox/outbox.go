// Package outbox owns the outbox table (migration 0013): every event a change produces is
// written by Add in the change's own transaction, so the event exists exactly when the
// change committed, and a Relay sends the rows to the Broker (K_SINK) after the commit,
// retrying with backoff until the Broker accepts them. A row's id and time are the
// CloudEvent's id and time, so however often a row is sent its id is the same and the
// consumers' dedupe by event id holds. A user's rows go out in the order they were
// written, each only once every earlier row of that user is delivered.
//
// Delivery is at least once: a relay that dies after the Broker accepted a row and before
// it marked it delivered sends it again (same id) once its lease on the row has run out.
package outbox

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/xmojo/diary/shared/store"
	"github.com/xmojo/diary/shared/userlock"
)

// Add writes one event (type, source, subject, data as JSON) of the user to the outbox in
// tx, the transaction of the change that produces it, and returns its id. The event is
// sent only if tx commits; the producer then calls its Relay's Wake so the relay sends it
// at once. Data are ids only, never content (docs/events.md).
//
// Add takes the user's outbox lock (userlock.Outbox) until tx ends, so the user's rows
// commit in the order of their seq. Call it after the change's other locks, at the end of
// the transaction.
func Add(ctx context.Context, tx pgx.Tx, eventType, source, subject, userID string, data any) (string, error) {
	body, err := json.Marshal(data)
	if err != nil {
		return "", fmt.Errorf("outbox: add %s: encode: %w", eventType, err)
	}
	if _, err := userlock.Lock(ctx, tx, userID, userlock.Outbox); err != nil {
		return "", fmt.Errorf("outbox: add %s: %w", eventType, err)
	}
	id := uuid.NewString()
	if _, err := tx.Exec(ctx, `
		INSERT INTO outbox (id, user_id, type, source, subject, data)
		VALUES ($1, $2, $3, $4, $5, $6)`,
		id, userID, eventType, source, subject, body); err != nil {
		return "", fmt.Errorf("outbox: add %s: %w", eventType, store.Translate(err))
	}
	return id, nil
}

// DeleteDelivered deletes up to limit rows delivered before cutoff and returns how many
// it deleted: the janitor's daily cleanup, after OUTBOX_RETENTION. Undelivered rows are
// never deleted here, however old.
func DeleteDelivered(ctx context.Context, db store.DBTX, cutoff time.Time, limit int) (int64, error) {
	tag, err := db.Exec(ctx, `
		DELETE FROM outbox WHERE id IN (
			SELECT id FROM outbox
			 WHERE delivered_at IS NOT NULL AND delivered_at < $1
			 ORDER BY delivered_at
			 LIMIT $2)`, cutoff, limit)
	if err != nil {
		return 0, fmt.Errorf("outbox: delete delivered: %w", store.Translate(err))
	}
	return tag.RowsAffected(), nil
}

// Backlog is what the outbox holds undelivered: the number of rows and the age of the
// oldest one (zero when there is none).
type Backlog struct {
	Rows   int64
	Oldest time.Duration
}

// Pending measures the outbox's backlog. The relay records it in the shared metrics
// (diary_outbox_backlog, diary_outbox_oldest_undelivered_age_seconds) after each round.
func Pending(ctx context.Context, db store.DBTX) (Backlog, error) {
	var b Backlog
	var oldest float64
	err := db.QueryRow(ctx, `
		SELECT count(*), coalesce(extract(epoch FROM clock_timestamp() - min(time)), 0)::float8
		  FROM outbox WHERE delivered_at IS NULL`).Scan(&b.Rows, &oldest)
	if err != nil {
		return Backlog{}, fmt.Errorf("outbox: backlog: %w", store.Translate(err))
	}
	b.Oldest = time.Duration(oldest * float64(time.Second))
	return b, nil
}
