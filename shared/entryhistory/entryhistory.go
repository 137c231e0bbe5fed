// Package entryhistory provides the audit row every change to an entry writes
// (entry_events), in the change's own transaction: the one way the entries function and
// shared/intake, the two writers of entries, record a change, so the history of
// GET /entries/{id}/history is the same whoever wrote the entry.
package entryhistory

import (
	"context"
	"fmt"
	"time"

	"github.com/xmojo/diary/shared/store"
)

// The kinds of change, as entry_events.event_type and entry.changed's change hold them.
const (
	Created  = "created"
	Updated  = "updated"
	Deleted  = "deleted"
	Restored = "restored"
)

// Record writes the history row of a change of the entry: its kind, the entry's version
// after it and its time. db is the change's transaction.
func Record(ctx context.Context, db store.DBTX, userID, entryID, kind string, version int, at time.Time) error {
	_, err := db.Exec(ctx, `
		INSERT INTO entry_events (entry_id, user_id, event_type, version, at)
		VALUES ($1, $2, $3, $4, $5)`,
		entryID, userID, kind, version, at)
	if err != nil {
		return fmt.Errorf("entryhistory: record %s: %w", kind, store.Translate(err))
	}
	return nil
}
