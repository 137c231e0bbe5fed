// Package entryref provides what a function that attaches something to an entry (media
// today) may know about entries: whether an id names a live entry of the user. The entries
// table belongs to the entries function; this is the one read of it outside that function
// (docs/architecture.md), and it reads no entry content.
package entryref

import (
	"context"
	"fmt"

	"github.com/xmojo/diary/shared/store"
)

// Live reports whether entryID is one of the user's entries and not deleted. Another
// user's entry and a deleted one are alike: false. It takes no lock: an entry live at the
// check cannot be purged before the attaching insert (a purge needs it deleted for
// ENTRY_RETENTION), that insert's foreign key check locks the entry row until the
// transaction ends, and a soft delete in between leaves the attachment as a delete just
// after it would.
func Live(ctx context.Context, db store.DBTX, userID, entryID string) (bool, error) {
	var ok bool
	err := db.QueryRow(ctx, `
		SELECT EXISTS (SELECT 1 FROM entries WHERE id = $1 AND user_id = $2 AND deleted_at IS NULL)`,
		entryID, userID).Scan(&ok)
	if err != nil {
		return false, fmt.Errorf("entryref: live entry: %w", store.Translate(err))
	}
	return ok, nil
}
