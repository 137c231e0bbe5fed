package entries

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

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

// insertEntryEvent records a change of the entry, in the transaction of the change.
func insertEntryEvent(ctx context.Context, db store.DBTX, userID, entryID, eventType string, version int, at time.Time) error {
	if err := entryhistory.Record(ctx, db, userID, entryID, eventType, version, at); err != nil {
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
