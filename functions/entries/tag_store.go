package entries

import (
	"context"
	"fmt"

	"github.com/google/uuid"

	"github.com/xmojo/diary/shared/store"
)

// setEntryTags makes names (normalised, unique) the entry's tags: it creates the user's
// tags that do not exist yet, links them, unlinks the others, and deletes the tags that no
// entry of the user carries any more. fresh says the entry was just created and has no
// tags to unlink. The caller holds the user's write lock, and writes the same names to the
// entry's own copy (entries.tags, read by every get, list and feed) in the same
// transaction, through insertEntry or updateEntryBody.
func setEntryTags(ctx context.Context, db store.DBTX, userID, entryID string, names []string, fresh bool) error {
	if names == nil {
		names = []string{} // NULL would make "<> ALL" unlink nothing
	}
	if len(names) > 0 {
		ids := make([]string, len(names))
		for i := range ids {
			ids[i] = uuid.NewString()
		}
		_, err := db.Exec(ctx, `
			INSERT INTO tags (id, user_id, name)
			SELECT id, $1, name FROM unnest($2::uuid[], $3::text[]) AS n (id, name)
			ON CONFLICT (user_id, name) DO NOTHING`,
			userID, ids, names)
		if err != nil {
			return fmt.Errorf("entries: create tags: %w", store.Translate(err))
		}
		_, err = db.Exec(ctx, `
			INSERT INTO entry_tags (entry_id, tag_id)
			SELECT $2, t.id FROM tags t WHERE t.user_id = $1 AND t.name = ANY($3)
			ON CONFLICT DO NOTHING`,
			userID, entryID, names)
		if err != nil {
			return fmt.Errorf("entries: link tags: %w", store.Translate(err))
		}
	}
	if fresh {
		return nil
	}
	_, err := db.Exec(ctx, `
		WITH unlinked AS (
			DELETE FROM entry_tags et USING tags t
			WHERE et.entry_id = $2 AND et.tag_id = t.id AND t.user_id = $1 AND t.name <> ALL($3)
			RETURNING et.tag_id
		)
		DELETE FROM tags t USING unlinked u
		WHERE t.id = u.tag_id AND t.user_id = $1
		  AND NOT EXISTS (SELECT 1 FROM entry_tags et WHERE et.tag_id = t.id AND et.entry_id <> $2)`,
		userID, entryID, names)
	if err != nil {
		return fmt.Errorf("entries: unlink tags: %w", store.Translate(err))
	}
	return nil
}
