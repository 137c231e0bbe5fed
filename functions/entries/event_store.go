package entries

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/xmojo/diary/eventing"
	"github.com/xmojo/diary/eventing/outbox"
	"github.com/xmojo/diary/shared/entryhistory"
	"github.com/xmojo/diary/shared/store"
)

// Kinds of change, as written to entry_events and sent in entry.changed events.
const (
	changeCreated  = entryhistory.Created
	changeUpdated  = entryhistory.Updated
	changeDeleted  = entryhistory.Deleted
	changeRestored = entryhistory.Restored
)

// historyItem is one row of an entry's history.
type historyItem struct {
	EventType string    `db:"event_type" json:"event_type"`
	Version   int       `db:"version" json:"version"`
	At        time.Time `db:"at" json:"at"`
}

// recordChange records a change of the entry in tx, the transaction of the change: its
// history row, and its entry.changed event in the outbox (ids, the kind of change and the
// new version, never content), which the relay sends once tx has committed.
func recordChange(ctx context.Context, tx pgx.Tx, userID, entryID, change string, version int, at time.Time) error {
	if err := entryhistory.Record(ctx, tx, userID, entryID, change, version, at); err != nil {
		return fmt.Errorf("entries: %w", err)
	}
	return addChanged(ctx, tx, userID, entryID, change, version)
}

// addChanged writes the entry.changed event of a change to the outbox, in tx.
func addChanged(ctx context.Context, tx pgx.Tx, userID, entryID, change string, version int) error {
	if _, err := outbox.Add(ctx, tx, eventing.TypeEntryChanged, eventing.SourceEntries, entryID, userID,
		eventing.EntryChanged{UserID: userID, EntryID: entryID, Change: change, Version: version}); err != nil {
		return fmt.Errorf("entries: %w", err)
	}
	return nil
}

// listEntryEvents returns the entry's history, oldest first.
func listEntryEvents(ctx context.Context, db store.DBTX, userID, entryID string) ([]historyItem, error) {
	rows, err := db.Query(ctx, `
		SELECT event_type, version, at FROM entry_events
		WHERE entry_id = $1 AND user_id = $2
		ORDER BY version`,
		entryID, userID)
	if err != nil {
		return nil, fmt.Errorf("entries: list entry events: %w", store.Translate(err))
	}
	items, err := pgx.CollectRows(rows, pgx.RowToStructByName[historyItem])
	if err != nil {
		return nil, fmt.Errorf("entries: list entry events: %w", store.Translate(err))
	}
	return items, nil
}
